"""The study command on a two-node Ray cluster simulated on this machine: its runs spread over both nodes."""
import json
import subprocess
import sys

import pytest

from conftest import need_ray

need_ray()
pytestmark = pytest.mark.slow  # a Ray cluster of its own


@pytest.fixture(scope="module")
def two_nodes():
    from ray.cluster_utils import Cluster

    store_bytes = 100 * 1024 * 1024
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False,
                                                            "object_store_memory": store_bytes})
    cluster.add_node(num_cpus=1, object_store_memory=store_bytes)
    cluster.wait_for_nodes()
    yield cluster
    cluster.shutdown()


def test_study_on_two_nodes_spreads_its_runs(two_nodes, home):
    cmd = [sys.executable, "-m", "playground", "study", "--recipe", "lenet", "--variants", "none,batchnorm",
           "--seeds", "2", "--epochs", "1", "--limit", "300", "--ray", two_nodes.address]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 4 and all(r["status"] == "finished" and r["executor"].startswith("ray") for r in rows)
    assert {(r["variant"], r["seed"]) for r in rows} == {(v, s) for v in ("none", "batchnorm") for s in (0, 1)}
    assert len({r["node"] for r in rows}) == 2, rows  # one actor per node, runs placed by free slots

from playground.words import counted


def test_a_count_agrees_with_its_noun():
    assert counted(1, "drawing") == "1 drawing"
    assert counted(3, "drawing") == "3 drawings" and counted(0, "run") == "0 runs"
    assert counted(1200, "run") == "1,200 runs" and counted(2, "child", "children") == "2 children"

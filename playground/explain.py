"""Why a model answered what it did: its worst mistakes on the test set, the classes it confuses, and
which input pixels (and, for a recurrent model, which image rows) drove one answer.

Attribution comes from Captum (PyTorch's own library): Integrated Gradients and occlusion for every
model, Grad-CAM for the CNNs. Each runs on a private copy of the model: the pages share one cached
model per checkpoint, and Captum's hooks and gradients must not see another session's passes.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import RunConfig, is_recurrent
from .data import Normalizer, display_images, load_dataset
from .errors import PlaygroundError

METHODS = {"ig": "Integrated Gradients", "occlusion": "Occlusion", "gradcam": "Grad-CAM"}
EVAL_BATCH = 1000


@dataclass(frozen=True)
class Mistake:
    index: int  # in the test set
    image: np.ndarray  # for display: (H, W) grey or (H, W, 3)
    true: int
    predicted: int
    p_true: float  # the probability the model gave the true class
    p_predicted: float
    loss: float  # cross-entropy: -log p_true


def test_outputs(model: nn.Module, config: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities (N, classes) on the run's own test set (its `limit` cuts it, as training's does:
    the counts then match the run's confusion matrix), and its labels (N,)."""
    ds = load_dataset(config.data.dataset)
    n = min(config.data.limit or len(ds.test_y), len(ds.test_y))
    norm = Normalizer.of(config.data.dataset, config.data.normalize)
    model.eval()
    with torch.no_grad():
        probs = torch.cat([torch.softmax(model(norm(ds.test_x[i:min(i + EVAL_BATCH, n)])), 1)
                           for i in range(0, n, EVAL_BATCH)])
    return probs.numpy(), ds.test_y[:n].numpy()


def worst_mistakes(probs: np.ndarray, labels: np.ndarray, config: RunConfig, count: int = 12,
                   true: int | None = None, predicted: int | None = None) -> list[Mistake]:
    """The wrong answers with the highest loss first (optionally those of one confusion-matrix cell)."""
    pred = probs.argmax(1)
    wrong = pred != labels
    if true is not None:
        wrong &= labels == true
    if predicted is not None:
        wrong &= pred == predicted
    idx = np.flatnonzero(wrong)
    p_true = probs[np.arange(len(labels)), labels]
    idx = idx[np.argsort(p_true[idx], kind="stable")][:count]  # lowest p(true) = highest loss first
    images = display_images(load_dataset(config.data.dataset).test_x[torch.as_tensor(idx, dtype=torch.long)])
    return [Mistake(int(i), img, int(labels[i]), int(pred[i]), float(p_true[i]), float(probs[i, pred[i]]),
                    float(-np.log(max(p_true[i], 1e-12)))) for i, img in zip(idx, images, strict=True)]


def confused_pairs(confusion: np.ndarray, top: int = 5) -> list[tuple[int, int, int]]:
    """(true, predicted, count) of the most frequent mistakes, largest first; a confusion matrix's rows
    are true classes, its columns predicted ones."""
    m = np.array(confusion, dtype=np.int64)
    np.fill_diagonal(m, 0)
    order = np.argsort(-m, axis=None, kind="stable")[:top]
    return [(int(t), int(p), int(m[t, p])) for t, p in zip(*np.unravel_index(order, m.shape), strict=True)
            if m[t, p] > 0]


def disagreements(probs_a: np.ndarray, probs_b: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Test indices that model A gets right and B wrong, and the other way round, over the test images both
    were scored on: each run's test set is the first N of one set (its `limit`), so the shorter is shared."""
    n = min(len(probs_a), len(probs_b), len(labels))
    probs_a, probs_b, labels = probs_a[:n], probs_b[:n], labels[:n]
    right_a, right_b = probs_a.argmax(1) == labels, probs_b.argmax(1) == labels
    return {"a_only": np.flatnonzero(right_a & ~right_b), "b_only": np.flatnonzero(right_b & ~right_a)}


def _last_conv(model: nn.Module) -> nn.Module | None:
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    return convs[-1] if convs else None


def saliency(model: nn.Module, x: torch.Tensor, target: int, method: str = "ig",
             baseline: torch.Tensor | None = None) -> np.ndarray:
    """How much each input pixel pushed the answer towards `target`: (H, W), summed over channels.

    x: (1, C, H, W) normalized as the model's training normalized it; `baseline` the same for a blank
    image (Integrated Gradients integrates from it; occlusion covers patches with it).
    """
    from captum.attr import IntegratedGradients, LayerAttribution, LayerGradCam, Occlusion

    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; valid: {', '.join(METHODS)}")
    model = copy.deepcopy(model).eval()  # private: Captum's hooks and gradients touch no shared copy
    for p in model.parameters():
        p.requires_grad_(False)
    x = x.detach().clone()
    base = torch.zeros_like(x) if baseline is None else baseline.detach().clone()
    if method == "ig":
        attr = IntegratedGradients(model).attribute(x, baselines=base, target=target, n_steps=32)
    elif method == "occlusion":
        c, h, w = x.shape[1:]
        patch = max(2, h // 7)  # 4x4 on 28x28: about a stroke's width
        attr = Occlusion(model).attribute(x, target=target, baselines=base, sliding_window_shapes=(c, patch, patch),
                                          strides=(c, max(1, patch // 2), max(1, patch // 2)))
    else:
        layer = _last_conv(model)
        if layer is None:
            raise ValueError("Grad-CAM needs a convolutional layer: use ig or occlusion for a recurrent model")
        cam = LayerGradCam(model, layer).attribute(x, target=target, relu_attributions=True)
        attr = LayerAttribution.interpolate(cam, tuple(x.shape[2:]), interpolate_mode="bilinear")
    return attr.detach().sum(1)[0].numpy()


PATCH = 4  # px: the deletion check's square, about a stroke's width on 28x28


def _random_patches(inked: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    """`count` patch indices per image (N, count), drawn among its inked patches (any, where too few have ink)."""
    return np.stack([rng.choice(np.flatnonzero(row) if row.sum() >= count else np.arange(len(row)), size=count,
                                replace=False) for row in inked])


def deletion_check(model: nn.Module, config: RunConfig, images: int = 200, patches: int = 4,
                   seed: int = 0) -> dict[str, float]:
    """Does the saliency map point at what the model uses? Over the first `images` test images, the mean fall
    in the true class's probability when the `patches` PATCHxPATCH squares Integrated Gradients credits most
    are blacked out, against as many random squares with ink in them (the deletion test of Samek et al. 2017).
    Returns {"salient_drop", "random_drop", "accuracy"}, fractions of probability and of images."""
    from captum.attr import IntegratedGradients

    ds = load_dataset(config.data.dataset)
    raw, y = ds.test_x[:images], ds.test_y[:images]  # (N, C, H, W) uint8, (N,)
    norm = Normalizer.of(config.data.dataset, config.data.normalize)
    x = norm(raw)
    base = blank_input(config, tuple(x.shape))
    model = copy.deepcopy(model).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    attr = IntegratedGradients(model).attribute(x, baselines=base, target=y, n_steps=32,
                                                internal_batch_size=EVAL_BATCH).sum(1)  # (N, H, W)
    n, h, w = attr.shape
    gh, gw = h // PATCH, w // PATCH
    credit = attr[:, :gh * PATCH, :gw * PATCH].reshape(n, gh, PATCH, gw, PATCH).sum((2, 4)).reshape(n, -1)
    inked = raw.sum(1)[:, :gh * PATCH, :gw * PATCH].reshape(n, gh, PATCH, gw, PATCH).sum((2, 4)).reshape(n, -1) > 0
    rng = np.random.default_rng(seed)  # the same random squares for every model checked
    salient = credit.argsort(1, descending=True)[:, :patches].numpy()
    random = _random_patches(inked.numpy(), patches, rng)

    def blacked(chosen: np.ndarray) -> torch.Tensor:
        mask = torch.zeros(n, gh * gw, dtype=torch.bool)
        mask[torch.arange(n)[:, None], torch.as_tensor(chosen)] = True
        mask = mask.reshape(n, gh, 1, gw, 1).expand(n, gh, PATCH, gw, PATCH).reshape(n, 1, gh * PATCH, gw * PATCH)
        full = torch.zeros(n, 1, h, w, dtype=torch.bool)
        full[:, :, :gh * PATCH, :gw * PATCH] = mask
        return torch.where(full, base, x)

    def p_true(inputs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return torch.softmax(model(inputs), 1)[torch.arange(n), y]

    before = p_true(x)
    with torch.no_grad():
        accuracy = float((model(x).argmax(1) == y).float().mean())
    return {"salient_drop": float((before - p_true(blacked(salient))).mean()),
            "random_drop": float((before - p_true(blacked(random))).mean()), "accuracy": accuracy}


def deletion_scores(model: nn.Module, config: RunConfig) -> dict[str, float]:
    """deletion_check of a trained model and of its untrained copy (keys "untrained_..."): an untrained
    model's answer hardly depends on its input, so blacking anything out barely moves it."""
    from .models import untrained

    got = deletion_check(model, config)
    got.update({f"untrained_{k}": v for k, v in deletion_check(untrained(config), config).items()})
    return got


def row_attribution(pixel_map: np.ndarray) -> np.ndarray:
    """(H,) per image row: what a recurrent model's answer owes to each row it read (row t = step t)."""
    return np.asarray(pixel_map).sum(1)


def blank_input(config: RunConfig, shape: tuple[int, ...]) -> torch.Tensor:
    """A black image (pixels 0) normalized as `config`'s training normalized its images."""
    return Normalizer.of(config.data.dataset, config.data.normalize)(torch.zeros(shape))


def methods_for(config: RunConfig) -> list[str]:
    """The attribution methods that apply: Grad-CAM needs a conv layer."""
    return ["ig", "occlusion"] if is_recurrent(config) else ["ig", "occlusion", "gradcam"]


def probability(model: nn.Module, x: torch.Tensor, target: int) -> float:
    with torch.no_grad():
        return float(F.softmax(model(x), 1)[0, target])


# ------------------------------------------------------------------ the model's own map of the inputs
PROJECTED = 2000  # test images placed on the map


def features_and_outputs(model: nn.Module, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """What the last layer sees, (N, features) (the input of the model's final Linear layer: a CNN's
    penultimate layer, a recurrent model's final hidden state), and the model's outputs, (N, classes),
    from one pass. On a private copy (a hook is state)."""
    model = copy.deepcopy(model).eval()
    last = [m for m in model.modules() if isinstance(m, nn.Linear)][-1]
    seen: list[torch.Tensor] = []
    outputs: list[torch.Tensor] = []
    handle = last.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0].detach()))
    try:
        with torch.no_grad():
            for i in range(0, len(x), EVAL_BATCH):
                outputs.append(model(x[i:i + EVAL_BATCH]))
    finally:
        handle.remove()
    return torch.cat(seen).numpy(), torch.cat(outputs).numpy()


def features(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """What the last layer sees, (N, features): see features_and_outputs."""
    return features_and_outputs(model, x)[0]


@dataclass(frozen=True)
class Projection:
    points: np.ndarray  # (N, 2)
    explained: float  # share of the features' variance the two axes keep
    mean: np.ndarray  # to place more inputs (a drawing) on the same map
    axes: np.ndarray  # (2, features)

    def place(self, feats: np.ndarray) -> np.ndarray:
        return (np.asarray(feats) - self.mean) @ self.axes.T


def pca(feats: np.ndarray) -> Projection:
    """The two directions of largest variance (principal components, by SVD), and the points on them."""
    mean = feats.mean(0)
    _, s, vt = np.linalg.svd(feats - mean, full_matrices=False)
    explained = float((s[:2] ** 2).sum() / max((s ** 2).sum(), 1e-12))
    if len(vt) < 2:  # one image, or a layer of one unit, has one direction: the second axis is flat
        vt = np.vstack([vt, np.zeros((2 - len(vt), feats.shape[1]))])
    return Projection((feats - mean) @ vt[:2].T, explained, mean, vt[:2])


NEIGHBOURS = 10  # a new input on a t-SNE map sits among this many nearest test images


@dataclass(frozen=True)
class NeighbourMap:
    """A map that cannot project new inputs (t-SNE): they go where their nearest neighbours are."""
    points: np.ndarray  # (N, 2)
    feats: np.ndarray  # (N, features): the inputs' features the map was made from

    def place(self, feats: np.ndarray) -> np.ndarray:
        """Each new input at the mean map position of its NEIGHBOURS nearest inputs in feature space."""
        new = np.asarray(feats, dtype=np.float64)
        d = ((new[:, None, :] - self.feats[None, :, :]) ** 2).sum(-1)  # (M, N)
        k = min(NEIGHBOURS, len(self.feats))
        nearest = np.argpartition(d, k - 1, axis=1)[:, :k]
        return self.points[nearest].mean(1)


TSNE_MIN = 2  # images: scikit-learn's t-SNE needs a perplexity below the number of points, and a perplexity > 0


def tsne(feats: np.ndarray, seed: int = 0) -> NeighbourMap:
    """scikit-learn's t-SNE (PCA start, perplexity 30 or less for few points): neighbours stay
    neighbours; distances between clusters and their sizes mean little."""
    from sklearn.manifold import TSNE  # imported on use: the map is optional and takes seconds

    feats = np.asarray(feats, dtype=np.float64)
    if len(feats) < TSNE_MIN:
        raise PlaygroundError(f"A t-SNE map needs at least {TSNE_MIN} test images; this test set has {len(feats)}. "
                              "PCA maps any number.")
    # A user's own folder may hold 2 or 3 test images: the perplexity stays below their number.
    perplexity = min(30.0, max(2.0, (len(feats) - 1) / 3), len(feats) - 1)
    points = TSNE(2, init="pca", perplexity=perplexity, random_state=seed).fit_transform(feats)
    return NeighbourMap(points, feats)


def separation(points: np.ndarray, labels: np.ndarray) -> float:
    """How far apart the classes sit on the map: between-class over total variance, in [0, 1]."""
    centre = points.mean(0)
    total = ((points - centre) ** 2).sum()
    between = sum((labels == c).sum() * ((points[labels == c].mean(0) - centre) ** 2).sum() for c in np.unique(labels))
    return float(between / max(total, 1e-12))

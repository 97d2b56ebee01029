"""Memory-lean TIES / DARE-TIES and the pread loader (lingotune/merge/lean.py, topk.py) vs stock mergekit."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from mergekit.merge_methods import get, merge_tensors
from safetensors.torch import load_file, save_file

from lingotune.merge.config import MergeSection
from lingotune.merge.lean import LEAN_METHODS, LeanTaskArithmeticMerge, PreadTensorLoader
from lingotune.merge.run import run_merge_spec
from lingotune.models.selection import top_fraction_mask
from lingotune.models.topk import kth_largest, top_k_mask
from tests.merge_fixtures import build_base, make_expert, tensors

DTYPES = [torch.float32, torch.bfloat16, torch.float16, torch.float64]


def _with_ties(n: int, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """Non-negative values with zeros and a block of equal values, like trimmed 16-bit updates."""
    values = torch.randn(n, generator=torch.Generator().manual_seed(seed)).to(dtype).abs()
    values[: n // 3] = 0
    values[n // 3 : n // 2] = values[n // 2]
    return values


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 9, 20_011])
def test_kth_largest_and_top_k_match_a_stable_sort(dtype, n):
    values = _with_ties(n, dtype)
    order = torch.sort(values.float(), descending=True, stable=True)
    for k in sorted({1, max(1, n // 5), n // 2 + 1, n}):
        threshold, ties = kth_largest(values, k, chunk=997)
        assert threshold.dtype == dtype and threshold.float() == order.values[k - 1]
        assert ties == int((order.values[:k] == order.values[k - 1]).sum())
        expected = torch.zeros(n, dtype=torch.bool)
        expected[order.indices[:k]] = True  # stable: equal values in index order
        assert torch.equal(top_k_mask(values, k), expected)


def test_kth_largest_puts_nan_first_and_checks_k():
    values = torch.tensor([1.0, float("nan"), 2.0]).abs()
    assert kth_largest(values, 1)[0].isnan() and kth_largest(values, 2)[0] == 2
    with pytest.raises(ValueError, match="outside"):
        kth_largest(values, 4)


def _stable_argsort(monkeypatch):
    """Make stock mergekit's magnitude trimming break ties like lingotune (lowest index first), for this test only."""
    argsort = torch.argsort
    monkeypatch.setattr(torch, "argsort", lambda t, dim=-1, descending=False, stable=False:
                        argsort(t, dim=dim, descending=descending, stable=True))


def _inputs(dtype: torch.dtype, experts: int = 3, shape=(67, 45)):
    g = torch.Generator().manual_seed(0)
    base = torch.randn(shape, generator=g).to(dtype)
    return [base] + [(base.float() + 0.1 * torch.randn(shape, generator=g)).to(dtype) for _ in range(experts)]


PARAMETERS = [
    {},
    {"rescale": True},
    {"rescale": False, "normalize": False, "int8_mask": True, "lambda": 1.0},
]


@pytest.mark.parametrize("method", ["ties", "dare_ties"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("extra", PARAMETERS)
def test_lean_kernel_equals_stock(monkeypatch, method, dtype, extra):
    """Same tensors (and random stream) as mergekit, many chunks; ties at the threshold broken by a stable sort."""
    _stable_argsort(monkeypatch)
    inputs = _inputs(dtype)
    lean = replace(get(LEAN_METHODS[method]), chunk_elements=777)
    parameters = {"weight": [1.0, 0.7, -0.3], "density": [0.2, 0.5, 1.0], "lambda": 0.9} | extra
    torch.manual_seed(3)
    stock_out = merge_tensors(inputs, method, parameters=parameters, base_index=0)
    stock_rng = torch.get_rng_state()
    torch.manual_seed(3)
    lean_out = merge_tensors(inputs, lean, parameters=parameters, base_index=0)
    assert torch.equal(torch.get_rng_state(), stock_rng)  # later tensors draw the same numbers
    assert lean_out.dtype == stock_out.dtype and lean_out.shape == stock_out.shape
    if method == "ties" and not (extra.get("rescale") and dtype == torch.float64):
        assert torch.equal(lean_out, stock_out)
    else:  # rescale factors: sums over chunks, last-bit rounding
        torch.testing.assert_close(lean_out, stock_out, rtol=1e-6, atol=1e-6)


def test_lean_ties_equals_stock_without_ties_and_edge_densities():
    inputs = _inputs(torch.float32, experts=2, shape=(5000,))
    lean = replace(get("lingotune_ties"), chunk_elements=1024)
    for density in ([1e-9, 0.3], [1.0, 1.0], [0.999, 0.0001], [0.0, 0.5]):
        parameters = {"weight": 1.0, "density": density}
        stock_out = merge_tensors(inputs, "ties", parameters=parameters, base_index=0)
        assert torch.equal(merge_tensors(inputs, lean, parameters=parameters, base_index=0), stock_out)
    only_base = merge_tensors(inputs[:1], lean, base_index=0)
    assert torch.equal(only_base, inputs[0])


def test_lean_trim_keeps_what_freeze_selects_at_ties():
    """revert keep_fraction (one-model TIES) and the freeze mask pick the same tied entries."""
    base = torch.zeros(40, 30)
    delta = torch.randint(-3, 4, (40, 30)).float()  # many equal magnitudes
    merged = merge_tensors([base, base + delta], replace(get("lingotune_ties"), chunk_elements=100),
                           parameters={"weight": 1.0, "density": 0.25, "normalize": False}, base_index=0)
    kept = top_fraction_mask(delta, 0.25)
    assert kept.sum() == int(0.25 * delta.numel())
    assert torch.equal(merged, torch.where(kept, delta, base))


def test_registration_leaves_stock_methods_alone():
    assert type(get("ties")) is not LeanTaskArithmeticMerge and type(get("dare_ties")) is not LeanTaskArithmeticMerge
    for stock, lean in LEAN_METHODS.items():
        assert get(lean).spec.parameters == get(stock).spec.parameters
        assert get(lean).spec.name == lean


def _shard(model: Path, out: Path, shards: int = 3) -> Path:
    """Copy a single-file checkpoint into ``shards`` safetensors shards with an index."""
    shutil.copytree(model, out, ignore=shutil.ignore_patterns("model.safetensors"))
    state = load_file(model / "model.safetensors")
    names = list(state)
    weight_map = {}
    for s in range(shards):
        shard = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: state[n] for n in names[s::shards]}
        save_file(part, str(out / shard), metadata={"format": "pt"})
        weight_map |= dict.fromkeys(part, shard)
    (out / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return out


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("lean")
    base = build_base(root, 4)
    e1, e2 = make_expert(base, root / "e1", seed=5), make_expert(base, root / "e2", seed=6)
    return root, base, e1, e2, _shard(base, root / "base-sharded"), _shard(e1, root / "e1-sharded")


def test_pread_loader_reads_every_tensor_of_a_sharded_model(models):
    from mergekit.io.lazy_tensor_loader import ShardedTensorIndex

    _, base, _, _, sharded, _ = models
    loader = PreadTensorLoader(ShardedTensorIndex.from_disk(str(sharded)))
    expected = tensors(base)
    for name in sorted(expected, reverse=True):  # jumps between shards
        assert torch.equal(loader.get_tensor(name), expected[name])
    assert torch.equal(loader.get_tensor("no.such", aliases=["model.norm.weight"]), expected["model.norm.weight"])
    assert loader.get_tensor("no.such", raise_on_missing=False) is None
    with pytest.raises(KeyError):
        loader.get_tensor("no.such")
    loader.flush()
    assert torch.equal(loader.get_tensor("model.norm.weight"), expected["model.norm.weight"])


def _merge(root: Path, name: str, raw: dict, **kwargs) -> tuple:
    result = run_merge_spec(MergeSection.model_validate({"merge": raw}).merge, root / name, **kwargs)
    merged: dict[str, torch.Tensor] = {}
    for shard in (root / name).glob("*.safetensors"):
        merged |= load_file(shard)
    return result, merged


@pytest.mark.parametrize("method", ["ties", "dare_ties", "revert"])
def test_lingotune_merge_equals_stock_mergekit(models, method):
    """Through run_merge_spec: lean kernels + pread loader (sharded inputs) = stock mergekit (single files)."""
    root, base, e1, e2, base_sharded, e1_sharded = models
    if method == "revert":
        raw = {"method": "revert", "base_model": str(base), "expert": str(e1),
               "revert": {"layers": [[1, 3]], "keep_fraction": 0.3}}
        lean_raw = raw | {"base_model": str(base_sharded), "expert": str(e1_sharded)}
    else:
        raw = {"method": method, "base_model": str(base), "density": 0.4, "seed": 7,
               "models": [{"model": str(e1), "weight": 0.6}, {"model": str(e2)}]}
        lean_raw = raw | {"base_model": str(base_sharded), "models": [{"model": str(e1_sharded), "weight": 0.6},
                                                                      {"model": str(e2)}]}
    stock_result, stock = _merge(root, f"{method}-stock", raw, memory_lean=False)
    lean_result, lean = _merge(root, f"{method}-lean", lean_raw)
    assert stock_result.plan["execution"] == {"kernel": "ties" if method == "revert" else method,
                                              "loader": "mergekit (mmap)"}
    assert lean_result.plan["execution"] == {"kernel": LEAN_METHODS["ties" if method == "revert" else method],
                                             "loader": "pread"}
    assert "merge_method: lingotune" not in lean_result.config_path.read_text()  # rerunnable with mergekit-yaml
    assert set(lean) == set(stock)
    for name, value in stock.items():
        if method == "dare_ties":
            torch.testing.assert_close(lean[name], value, rtol=1e-6, atol=1e-7)
        else:
            assert torch.equal(lean[name], value), name


def test_without_pread_mergekit_loader_is_used(models, monkeypatch):
    import lingotune.merge.lean as lean

    root, base, e1, e2, *_ = models
    monkeypatch.setattr(lean, "pread_supported", lambda path: False)
    raw = {"method": "ties", "base_model": str(base), "models": [{"model": str(e1)}, {"model": str(e2)}]}
    result, _ = _merge(root, "no-pread", raw)
    assert result.plan["execution"] == {"kernel": "lingotune_ties", "loader": "mergekit (mmap)"}

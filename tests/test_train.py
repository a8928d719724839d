"""apcore.train: one trainer for reconstruction, denoising and one-class; seeded; cancellable."""

import math

import pytest
import torch

from apcore import defaults, models, train
from apcore.config import ModelConfig
from apcore.data import load_dataset, to_float
from apcore.train import Cancelled, Progress, fit, pick_device, training_images

CPU = torch.device("cpu")


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def mnist():
    return load_dataset("mnist")


def tiny(**changes) -> ModelConfig:
    return ModelConfig(**{"family": "ae-mlp", "train_limit": 512, "epochs": 1, "batch_size": 64, **changes})


def trained(config, data, **kwargs):
    torch.manual_seed(config.seed)
    model = models.build(config)
    history = fit(model, config, data, CPU, **kwargs)
    return model, history


def without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


@pytest.mark.parametrize("family", ["ae-mlp", "vae-conv"])
def test_reproducible_on_cpu(family, mnist):
    config = tiny(family=family, epochs=2, train_limit=256)
    a, ha = trained(config, mnist)
    b, hb = trained(config, mnist)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name
    assert without_seconds(ha) == without_seconds(hb)
    c, hc = trained(config.replace(seed=1), mnist)
    assert not all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), c.state_dict().values()))
    assert without_seconds(ha) != without_seconds(hc)


def test_history_and_learning(mnist):
    config = tiny(family="vae-mlp", epochs=2)
    model, history = trained(config, mnist)
    assert [row["epoch"] for row in history] == [1, 2]
    for row in history:
        assert set(row) == {"epoch", "loss", "recon", "kl", "seconds"}
        assert math.isfinite(row["loss"]) and row["seconds"] > 0
        assert row["loss"] == pytest.approx(row["recon"] + row["kl"], rel=1e-4)
    assert history[1]["loss"] < history[0]["loss"]
    assert history[0]["loss"] < 544  # below the untrained ~784 * ln 2
    assert not model.training  # left in evaluation mode


def test_progress_callback(mnist):
    config = tiny(epochs=2, train_limit=512, batch_size=100)  # 5 full batches; the ragged 12 dropped
    seen: list[Progress] = []
    _, history = trained(config, mnist, on_progress=seen.append)
    assert seen, "never called"
    for p in seen:
        assert p.epochs == 2 and 1 <= p.epoch <= 2
        assert p.steps == 5 and 1 <= p.step <= 5
        assert set(p.losses) == {"loss", "recon"} and all(math.isfinite(v) for v in p.losses.values())
        assert 0 < p.fraction <= 1
    # The last step of every epoch is always reported, whatever the rate limit.
    ends = [p for p in seen if p.step == p.steps]
    assert [p.epoch for p in ends] == [1, 2]
    assert seen[-1].fraction == 1.0
    fractions = [p.fraction for p in seen]
    elapsed = [p.elapsed for p in seen]
    assert fractions == sorted(fractions) and elapsed == sorted(elapsed)
    # The end-of-epoch running mean is the epoch's history row.
    assert ends[0].losses["loss"] == pytest.approx(history[0]["loss"], rel=1e-6)


def test_cancel(mnist):
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) >= 3

    seen = []
    with pytest.raises(Cancelled):
        trained(tiny(), mnist, on_progress=seen.append, should_stop=should_stop)
    assert len(calls) == 3  # asked before every step, stopped at once
    assert all(p.step <= 2 for p in seen)


def test_training_images_one_class(mnist):
    config = tiny(normal_classes=(3, 7), train_limit=300)
    images = training_images(config, mnist)
    keep = [i for i, label in enumerate(mnist.train_labels.tolist()) if label in (3, 7)][:300]
    assert len(images) == 300
    assert torch.equal(images, mnist.train_images[keep])
    # All classes: the first train_limit images, in order.
    assert torch.equal(training_images(tiny(train_limit=50), mnist), mnist.train_images[:50])
    assert len(training_images(tiny(train_limit=0), mnist)) == 60000


def test_one_class_fit_sees_only_normal_classes(mnist, monkeypatch):
    config = tiny(normal_classes=(1,), train_limit=256)
    normal = {bytes(img.numpy()) for img in mnist.train_images[mnist.train_labels == 1]}
    batches = []
    model = models.build(config)
    original = model.loss
    monkeypatch.setattr(model, "loss", lambda x, target, gen: batches.append(target) or original(x, target, gen))
    fit(model, config, mnist, CPU)
    assert len(batches) == 256 // 64
    images = (torch.cat(batches) * 255).round().to(torch.uint8).squeeze(1)
    assert all(bytes(img.numpy()) in normal for img in images)


@pytest.mark.parametrize("noise", ["gaussian", "salt-pepper", "mask"])
def test_denoising_corrupts_input_not_target(noise, mnist, monkeypatch):
    config = tiny(noise=noise, noise_level=0.4, train_limit=128)
    seen = []
    model = models.build(config)
    original = model.loss
    monkeypatch.setattr(model, "loss", lambda x, target, gen: seen.append((x, target)) or original(x, target, gen))
    history = fit(model, config, mnist, CPU)
    assert math.isfinite(history[0]["loss"])
    x, target = seen[0]
    clean = (target * 255).round()
    assert torch.allclose(target * 255, clean, atol=1e-3)  # the target is a clean uint8 image
    assert not torch.equal(x, target)
    assert x.min() >= 0 and x.max() <= 1


def test_plain_reconstruction_target_is_input(mnist, monkeypatch):
    config = tiny(train_limit=128)
    seen = []
    model = models.build(config)
    original = model.loss
    monkeypatch.setattr(model, "loss", lambda x, target, gen: seen.append((x, target)) or original(x, target, gen))
    fit(model, config, mnist, CPU)
    assert all(torch.equal(x, t) for x, t in seen)


def test_flush_denormal_on_cpu(mnist):
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    tiny_float = torch.tensor([1e-40], dtype=torch.float32)
    assert (tiny_float * 1.0).item() != 0.0  # a denormal survives while flushing is off
    trained(tiny(train_limit=64), mnist)
    assert (torch.tensor([1e-40], dtype=torch.float32) * 1.0).item() == 0.0


def test_pick_device():
    assert pick_device("cpu") == CPU
    assert pick_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="unknown device"):
        pick_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            pick_device("cuda")


def test_batch_larger_than_data(mnist):
    # batch_size > train_limit: one full-data batch per epoch rather than zero steps.
    _, history = trained(tiny(train_limit=50, batch_size=128), mnist)
    assert len(history) == 1 and math.isfinite(history[0]["loss"])


def test_trainer_uses_its_own_generator(mnist):
    # Every random draw (shuffle, noise, VAE sampling) comes from the config's seed, so another
    # thread seeding or drawing from torch's global generator cannot change a training.
    config = tiny(family="vae-mlp", noise="gaussian", noise_level=0.3, train_limit=128)
    torch.manual_seed(0)
    model = models.build(config)
    state = torch.get_rng_state()
    fit(model, config, mnist, CPU)
    assert torch.equal(torch.get_rng_state(), state)


def test_progress_rate_limited(mnist, monkeypatch):
    monkeypatch.setattr(train, "PROGRESS_EVERY_S", 3600.0)
    seen = []
    trained(tiny(train_limit=512, batch_size=64), mnist, on_progress=seen.append)
    # The first step (nothing reported yet) and the epoch's last step only.
    assert [(p.step, p.steps) for p in seen] == [(1, 8), (8, 8)]


class RecordingHook:
    """A snapshot hook that notes when it is called and what the model looked like then."""

    def __init__(self, model, wanted):
        self.model, self.wanted, self.calls, self.total = model, wanted, [], None

    def steps(self, total_steps):
        self.total = total_steps
        return self.wanted(total_steps)

    def __call__(self, step):
        first = next(self.model.parameters())
        self.calls.append((step, self.model.training, first.detach().clone()))


def test_snapshot_hook_called_at_the_steps_it_asks_for(mnist):
    config = tiny(epochs=2, train_limit=320, batch_size=64)  # 5 steps an epoch, 10 in all
    torch.manual_seed(0)
    model = models.build(config)
    initial = next(model.parameters()).detach().clone()
    hook = RecordingHook(model, lambda total: [0, 3, 5, 6, total, total + 5])
    fit(model, config, mnist, CPU, on_snapshot=hook)
    assert hook.total == 10
    assert [step for step, _, _ in hook.calls] == [0, 3, 5, 6, 10]  # across epochs; none past the end
    assert all(training for _, training, _ in hook.calls)
    assert torch.equal(hook.calls[0][2], initial)  # step 0: before any update
    assert not torch.equal(hook.calls[1][2], initial)
    assert torch.equal(hook.calls[-1][2], next(model.parameters()))  # the last step: the trained model


def test_schedule_warms_up_then_decays_to_zero():
    f = train._schedule(100, warmup=0.1)
    assert len(f) == 100 and all(isinstance(v, float) for v in f)
    assert f[:10] == pytest.approx([(t + 1) / 10 for t in range(10)])  # linear rise
    assert f[10] == pytest.approx(1.0) and f[55] == pytest.approx(0.5) and 0 < f[99] < 1e-3
    plain = train._schedule(100)                                       # no warm-up
    assert plain[0] == pytest.approx(1.0) and plain[50] == pytest.approx(0.5)
    step_by_step = train._device_schedule(100, 0.1)                    # the CUDA graphs' form, one step at a time
    assert f == [float(step_by_step(torch.tensor(float(t), dtype=torch.float64))) for t in range(100)]


@pytest.mark.parametrize("family, warm_steps, betas", [("vae-mlp", 1, (0.9, 0.99)), ("ae-fconv", 2, (0.8, 0.99)),
                                                     ("ae-conv", 0, (0.8, 0.999)), ("vae-conv", 1, (0.9, 0.999))])
def test_fit_steps_at_the_scheduled_rates_with_the_familys_betas(family, warm_steps, betas, mnist, monkeypatch):
    """Each optimiser step uses the schedule's rate for the steps before it, across epochs, and the
    family's betas: the denoising CNN's tenfold rate comes with a warm-up and beta1 0.8, the conv AE
    has beta1 0.8 too, the conv VAE PyTorch's defaults."""
    config = tiny(family=family, train_limit=15 * 64, epochs=2, lr=3e-3)  # 30 steps
    used, used_betas = [], set()
    step = torch.optim.Adam.step

    def spy(self, *a, **k):
        used.append(self.param_groups[0]["lr"])
        used_betas.add(self.param_groups[0]["betas"])
        return step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", spy)
    trained(config, mnist)
    assert used_betas == {betas}
    assert used == [3e-3 * f for f in train._schedule(30, defaults.WARMUP.get(family, 0.0))]
    assert used.index(max(used)) == warm_steps and used[-1] < 1e-4  # the warm-up (if any), then the decay
    assert all(a < b for a, b in zip(used[:warm_steps], used[1:warm_steps + 1]))


def test_precision_by_family_cpu_and_override(monkeypatch):
    cpu, gpu = torch.device("cpu"), torch.device("cuda")
    monkeypatch.delenv("APCORE_PRECISION", raising=False)
    native = torch.bfloat16 if train.cpu_has_bf16() else None
    vae, ae = defaults.default_config("vae-mlp", latent_dim=20), defaults.default_config("ae-mlp", latent_dim=20)
    assert train.autocast_dtype(cpu, vae) is native and train.autocast_dtype(cpu, ae) is native
    assert train.autocast_dtype(cpu, defaults.cluster_ae_config()) is native  # the clustering AE too
    monkeypatch.setattr(defaults, "BF16_FAMILIES", ("vae-mlp",))
    assert train.autocast_dtype(cpu, ae) is None          # a family not in the list: float32
    assert train.autocast_dtype(gpu, vae) is None
    monkeypatch.setenv("APCORE_PRECISION", "fp32")
    assert train.autocast_dtype(cpu, vae) is None


@pytest.mark.skipif(not train.cpu_has_bf16(), reason="this CPU has no native bf16")
def test_bf16_training_keeps_float32_weights_and_losses(mnist, monkeypatch):
    monkeypatch.delenv("APCORE_PRECISION", raising=False)
    config = ModelConfig(family="vae-mlp", latent_dim=2, epochs=1, batch_size=64, train_limit=256)
    torch.manual_seed(0)
    model = models.build(config)
    history = fit(model, config, mnist, torch.device("cpu"))
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert math.isfinite(history[0]["loss"]) and history[0]["kl"] > 0
    terms = model.loss(torch.rand(4, 1, 28, 28))
    assert all(v.dtype == torch.float32 for v in terms.values())


def test_mean_image_is_the_float_images_mean(mnist):
    images = mnist.train_images[: 2 * train.MEAN_CHUNK + 500]  # two whole chunks and a ragged one
    expected = to_float(images).double().mean(0)
    assert train.mean_image(images).shape == (1, 28, 28)
    assert torch.allclose(train.mean_image(images).double(), expected, atol=1e-6)
    # the chunked sum is exact: the same float32 image as one float64 sum of them all
    whole = (images.sum(0, dtype=torch.float64) / (255.0 * len(images))).float().reshape(1, 28, 28)
    assert torch.equal(train.mean_image(images), whole)


@pytest.mark.parametrize("family", ["ae-mlp", "vae-mlp", "ae-conv"])
def test_fit_starts_the_mlps_from_their_training_images(family, mnist, monkeypatch):
    config = tiny(family=family, normal_classes=(3,), latent_dim=4)
    seen = []
    monkeypatch.setattr(models.Autoencoder, "start_from", lambda self, mean: seen.append(mean))
    trained(config, mnist)
    if family in defaults.DATA_START:
        assert len(seen) == 1  # the mean of the images it trains on: the normal class only
        assert torch.equal(seen[0], train.mean_image(training_images(config, mnist)))
    else:
        assert seen == []


# -- on a GPU: captured CUDA graphs (train._fit_graphed) --------------------------------------------
GPU = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")


@pytest.mark.parametrize("total, warmup", [(100, 0.05), (37, 0.0), (1407, 0.05), (3, 0.5)])
def test_device_schedule_is_warm_up_then_cosine(total, warmup):
    # What the graphs evaluate on the device (float32) and the eager loop's list on the host
    # (float64, steps 0 .. total - 1), against the formula: (t + 1) / rise over the warm-up, then
    # 0.5 (1 + cos(pi (t - rise) / (total - rise))).
    rise = round(warmup * total)
    on_host, on_device = train._schedule(total, warmup), train._device_schedule(total, warmup)
    assert len(on_host) == total
    for t in range(total + 1):
        expected = (t + 1) / rise if t < rise else 0.5 * (1 + math.cos(math.pi * (t - rise) / (total - rise)))
        if t < total:
            assert on_host[t] == pytest.approx(expected, abs=1e-12)
        assert float(on_device(torch.tensor(float(t)))) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("steps, k", [(468, 26), (234, 26), (23, 23), (37, 1), (4, 4), (750, 30), (1, 1)])
def test_steps_per_graph_divides_the_epoch(steps, k):
    assert train.steps_per_graph(steps) == k and steps % k == 0


def test_graph_chunks_stop_at_every_snapshot_step():
    from apcore.snapshots import snapshot_steps

    steps, epochs, k = 234, 3, 26
    wanted = snapshot_steps(steps * epochs)
    done, ends = 0, set()
    for _ in range(epochs):
        sizes = list(train.graph_chunks(steps, k, done, wanted))
        assert sum(sizes) == steps and set(sizes) <= {1, k}
        for size in sizes:
            done += size
            ends.add(done)
    assert set(wanted) - {0} <= ends  # every snapshot step is the end of a chunk
    singles = sum(size == 1 for size in train.graph_chunks(steps, k, 0, wanted))
    assert singles < len(wanted) * k  # at most k - 1 before each snapshot step
    assert list(train.graph_chunks(steps, k, 0, [])) == [k] * (steps // k)


@GPU
def test_fit_on_a_gpu_replays_graphs_learns_and_snapshots(mnist, caplog, monkeypatch):
    monkeypatch.delenv("APCORE_CUDA_GRAPHS", raising=False)
    gpu = torch.device("cuda")
    config = tiny(family="vae-mlp", epochs=3, train_limit=640, batch_size=64)  # 10 steps an epoch
    runs = []
    for _ in range(2):
        torch.manual_seed(config.seed)
        model = models.build(config)
        hook = RecordingHook(model, lambda total: [0, 1, 4, 15, total])
        with caplog.at_level("INFO", logger=train.__name__):
            history = fit(model, config, mnist, gpu, on_snapshot=hook)
        runs.append(model)
        assert "CUDA graphs of 10 steps" in caplog.text and "without graphs" not in caplog.text  # no fallback
        assert [row["epoch"] for row in history] == [1, 2, 3] and history[-1]["loss"] < history[0]["loss"]
        assert [step for step, _, _ in hook.calls] == [0, 1, 4, 15, 30]
        assert torch.equal(hook.calls[-1][2], next(model.parameters()))
    for p, q in zip(runs[0].state_dict().values(), runs[1].state_dict().values()):
        assert torch.equal(p, q)  # a seed trains the same weights each time
    stop = iter([False] + [True] * 100)  # asked before each replay: here one per epoch (10-step graphs)
    with pytest.raises(Cancelled):
        fit(models.build(config), config, mnist, gpu, should_stop=lambda: next(stop))


@GPU
def test_graphs_can_be_turned_off(mnist, caplog, monkeypatch):
    monkeypatch.setenv("APCORE_CUDA_GRAPHS", "0")
    with caplog.at_level("INFO", logger=train.__name__):
        fit(models.build(tiny()), tiny(), mnist, torch.device("cuda"))
    assert "CUDA graphs" not in caplog.text and "training" in caplog.text

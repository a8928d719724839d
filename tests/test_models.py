"""apcore.models: one contract test for every family, and the loss terms against torch's own."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import Normal, kl_divergence

from apcore import models
from apcore.config import FAMILIES, ModelConfig
from apcore.data import load_dataset, to_float
from apcore.models import kl_per_dim

LATENTS = (2, 7, 64)
B = 5


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def images():
    return to_float(load_dataset("mnist").train_images[:32])


def build(family, latent_dim=8, beta=1.0, seed=0):
    torch.manual_seed(seed)
    return models.build(ModelConfig(family=family, latent_dim=latent_dim, beta=beta))


@pytest.mark.parametrize("latent_dim", LATENTS)
@pytest.mark.parametrize("family", FAMILIES)
def test_contract(family, latent_dim, images):
    model = build(family, latent_dim)
    x = images[:B]
    expected_class = {"ae-mlp": models.MLPAutoencoder, "ae-conv": models.ConvAutoencoder,
                      "ae-fconv": models.FullyConvAutoencoder, "vae-mlp": models.MLPVAE,
                      "vae-conv": models.ConvVAE}[family]
    assert type(model) is expected_class
    assert model.latent_dim == latent_dim
    assert model.code_size == latent_dim * (49 if family == "ae-fconv" else 1)
    assert model.is_vae == family.startswith("vae")

    code = model.encode(x)
    if model.is_vae:
        mu, logvar = code
        assert mu.shape == logvar.shape == (B, latent_dim)
        logits, mu2, logvar2 = model(x)
        assert torch.equal(mu, mu2) and torch.equal(logvar, logvar2)
        assert torch.equal(model.embed(x), mu)  # the deterministic code is the mean
    else:
        assert code.shape == (B, model.code_size)
        logits = model(x)
        assert torch.equal(model.embed(x), code)
    assert logits.shape == (B, 1, 28, 28)

    z = torch.randn(B, model.code_size) * 10  # far out, where a missing sigmoid would show
    out = model.decode(z)
    assert out.shape == (B, 1, 28, 28)
    assert out.min() >= 0 and out.max() <= 1
    assert torch.allclose(out, torch.sigmoid(model.decode_logits(z)))

    rec = model.reconstruct(x)
    assert rec.shape == (B, 1, 28, 28) and rec.min() >= 0 and rec.max() <= 1
    assert torch.equal(rec, model.reconstruct(x))  # deterministic, even for a VAE

    terms = model.loss(x)
    assert set(terms) == ({"loss", "recon", "kl"} if model.is_vae else {"loss", "recon"})
    for v in terms.values():
        assert v.shape == () and torch.isfinite(v)
    per_image = model.loss_terms(x, x)
    assert all(v.shape == (B,) for v in per_image.values())

    model.zero_grad()
    terms["loss"].backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert any(p.grad.abs().sum() > 0 for p in model.parameters())


@pytest.mark.parametrize("family", FAMILIES)
def test_build_uses_config(family):
    a, b = build(family, 3, seed=0), build(family, 3, seed=0)
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        assert torch.equal(p, q), name  # same seed, same initial weights


def test_mlp_widths_follow_the_lecture():
    sizes = [m.out_features for m in build("ae-mlp", 10).encoder.modules() if isinstance(m, torch.nn.Linear)]
    assert sizes == [512, 256, 10]
    decoder = [m.out_features for m in build("ae-mlp", 10).decoder.modules() if isinstance(m, torch.nn.Linear)]
    assert decoder == [256, 512, 784]


@pytest.mark.parametrize("family", ["ae-conv", "ae-fconv", "vae-conv"])
def test_conv_decoder_uses_transposed_convolution(family):
    assert any(isinstance(m, torch.nn.ConvTranspose2d) for m in build(family).decoder.modules())


@pytest.mark.parametrize("family", ["ae-conv", "ae-fconv", "vae-conv"])
def test_conv_models_are_channels_last_and_compute_the_plain_layouts_function(family, images):
    model = build(family, 6).eval()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d)]
    assert convs and all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    assert not build("ae-mlp").channels_last

    # The oracle: the same weights in PyTorch's default layout, fed plain inputs.
    plain = build(family, 6).eval()
    plain.channels_last = False
    plain.load_state_dict({k: v.contiguous() for k, v in model.state_dict().items()})
    plain.to(memory_format=torch.contiguous_format)
    assert any(not m.weight.is_contiguous(memory_format=torch.channels_last)
               for m in plain.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d))  # another layout
    with torch.no_grad():
        assert torch.allclose(model.reconstruct(images[:8]), plain.reconstruct(images[:8]), atol=1e-5)

    # A state dict saved in the plain layout (a checkpoint from before) loads into the model.
    fresh = build(family, 6, seed=1).eval()
    fresh.load_state_dict(plain.state_dict())
    assert all(m.weight.is_contiguous(memory_format=torch.channels_last)
               for m in fresh.modules() if isinstance(m, nn.Conv2d | nn.ConvTranspose2d))
    with torch.no_grad():
        assert torch.allclose(fresh.reconstruct(images[:8]), plain.reconstruct(images[:8]), atol=1e-5)


def test_fully_conv_code_cells_are_local(images):
    """Each cell of the 7x7 code maps draws only its own neighbourhood of the image."""
    model = build("ae-fconv", 8).eval()
    z = model.encode(images[:2])
    bumped = z.view(2, 8, 7, 7).clone()
    bumped[:, :, 0, 0] += 5.0  # the top-left cell
    diff = (model.decode(bumped.flatten(1)) - model.decode(z)).abs()[:, 0]
    assert diff[:, :11, :11].max() > 1e-3  # 3x3 conv, then two stride-2 transposed convs: rows/cols 0..10
    assert diff[:, 11:, :].max() == 0 and diff[:, :, 11:].max() == 0


def test_fully_conv_in_eval_mode_treats_each_image_alone(images):
    model = build("ae-fconv", 8)
    model.loss(images)  # one training-mode pass: batch norm's running statistics move
    model.eval()
    together = model.reconstruct(images[:6])
    alone = torch.cat([model.reconstruct(images[i:i + 1]) for i in range(6)])
    assert torch.allclose(together, alone, atol=1e-6)


# -- loss terms against torch oracles ----------------------------------------------------------
def test_kl_per_dim_against_torch_distributions():
    torch.manual_seed(0)
    mu = torch.randn(16, 7) * 2
    logvar = torch.randn(16, 7) * 1.5
    expected = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0))
    assert torch.allclose(kl_per_dim(mu, logvar), expected, atol=1e-5, rtol=1e-5)
    assert torch.allclose(kl_per_dim(torch.zeros(3, 4), torch.zeros(3, 4)), torch.zeros(3, 4))


@pytest.mark.parametrize("family", ["vae-mlp", "vae-conv"])
def test_vae_terms_against_oracles(family, images):
    model = build(family, 6, beta=1.0)
    x = images[:8]
    terms = model.loss_terms(x, x, torch.Generator().manual_seed(3))
    # The same generator seed draws the same eps, so the forward pass is reproduced exactly.
    logits, mu, logvar = model(x, torch.Generator().manual_seed(3))
    kl = kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(1)
    bce = F.binary_cross_entropy(torch.sigmoid(logits), x, reduction="none").flatten(1).sum(1)
    assert torch.allclose(terms["kl"], kl, rtol=1e-4, atol=1e-4)
    assert torch.allclose(terms["recon"], bce, rtol=1e-4, atol=1e-2)
    assert torch.allclose(terms["loss"], bce + kl, rtol=1e-4, atol=1e-2)
    means = model.loss(x, x, torch.Generator().manual_seed(3))
    assert torch.allclose(means["kl"], kl.mean(), rtol=1e-4)


@pytest.mark.parametrize("family", ["ae-mlp", "ae-conv", "ae-fconv"])
def test_ae_recon_against_bce(family, images):
    model = build(family, 6)
    x = images[:8]
    target = (x > 0.5).float()  # any target in [0, 1] works; binary makes it differ from x
    bce = F.binary_cross_entropy(torch.sigmoid(model(x)), target, reduction="none").flatten(1).sum(1)
    terms = model.loss_terms(x, target)
    assert torch.allclose(terms["recon"], bce, rtol=1e-4, atol=1e-2)
    assert torch.equal(terms["loss"], terms["recon"])
    assert torch.allclose(model.loss(x, target)["loss"], bce.mean(), rtol=1e-4)


def test_loss_uses_target_not_input(images):
    model = build("ae-mlp")
    x = images[:4]
    assert not torch.allclose(model.loss(x, torch.zeros_like(x))["recon"], model.loss(x)["recon"])


def test_loss_finite_when_saturated():
    # Logits far beyond float32's sigmoid saturation: a loss computed from probabilities gives inf.
    model = build("ae-mlp", 2)
    with torch.no_grad():
        model.decoder[-1].bias.fill_(200.0)
    x = torch.zeros(2, 1, 28, 28)
    assert torch.isfinite(model.loss(x)["recon"])
    assert model.loss(x)["recon"].item() == pytest.approx(784 * 200, rel=2e-2)


@pytest.mark.parametrize("beta", [0.0, 0.5, 4.0])
@pytest.mark.parametrize("family", ["vae-mlp", "vae-conv"])
def test_beta_weights_kl(family, beta, images):
    model = build(family, 5, beta=beta)
    assert model.beta == beta
    t = model.loss_terms(images[:6], images[:6], torch.Generator().manual_seed(0))
    assert torch.allclose(t["loss"], t["recon"] + beta * t["kl"])
    assert (t["kl"] > 0).all()


# -- learning ----------------------------------------------------------------------------------
@pytest.mark.parametrize("family", FAMILIES)
def test_overfits_one_batch(family, images):
    torch.set_flush_denormal(True)  # as the trainer does: otherwise Adam's denormals slow this 20x
    model = build(family, 8)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(0)
    first = model.loss(images, images, gen)["loss"].item()
    for _ in range(150):
        loss = model.loss(images, images, gen)["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    last = model.loss(images, images, gen)["loss"].item()
    assert last < first / 3.5, (first, last)


@pytest.mark.parametrize("family", FAMILIES)
def test_terms_and_reconstruction_equal_loss_terms_and_reconstruct(family, images):
    """The evaluation's one pass: the loss terms of ``loss_terms`` (the same VAE sample) and the
    deterministic reconstruction of ``reconstruct``."""
    model = build(family).eval()
    target = images.flip(-1)
    with torch.no_grad():
        terms, out = model.terms_and_reconstruction(images, target, torch.Generator().manual_seed(3))
        expected = model.loss_terms(images, target, torch.Generator().manual_seed(3))
        assert set(terms) == set(expected)
        for k in terms:
            torch.testing.assert_close(terms[k], expected[k])
        torch.testing.assert_close(out, model.reconstruct(images))


@pytest.mark.parametrize("channels", [(16, 1), (32, 16), (3, 2)])
def test_sub_pixel_transposed_convolution_is_pytorchs(channels):
    from apcore.models.autoencoder import SubPixelConvTranspose2d

    torch.manual_seed(0)
    fast, reference = SubPixelConvTranspose2d(*channels), nn.ConvTranspose2d(*channels, 4, stride=2, padding=1)
    reference.load_state_dict(fast.state_dict())  # the same parameters, by name: checkpoints unchanged
    x = torch.randn(5, channels[0], 7, 9)
    xs = [x.clone().requires_grad_(), x.clone().requires_grad_()]
    ys = [fast(xs[0]), reference(xs[1])]
    assert ys[0].shape == ys[1].shape == (5, channels[1], 14, 18)
    torch.testing.assert_close(ys[0], ys[1], rtol=1e-5, atol=1e-5)
    g = torch.randn_like(ys[1])
    for y in ys:
        y.backward(g)
    torch.testing.assert_close(xs[0].grad, xs[1].grad, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(fast.weight.grad, reference.weight.grad, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(fast.bias.grad, reference.bias.grad, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("scale", [0.1, 4.0, 60.0])
def test_bce_per_image_is_pytorchs(scale):
    from apcore.models.autoencoder import bce_per_image

    torch.manual_seed(0)
    logits = torch.randn(6, 1, 28, 28) * scale
    logits[0, 0, 0, :4] = torch.tensor([-200.0, 200.0, 0.0, -0.0])  # saturated pixels and zero
    target = torch.rand(6, 1, 28, 28)
    target[1] = (target[1] > 0.5).float()  # exact 0 and 1 targets too
    exact = F.binary_cross_entropy_with_logits(logits.double(), target.double(), reduction="none").flatten(1).sum(1)
    theirs = F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(1).sum(1)
    ours = bce_per_image(logits, target)
    assert ours.dtype == torch.float32 and ours.shape == (6,)
    # as close to float64 as PyTorch's own float32 result is, within a few float32 roundings
    assert (ours.double() - exact).abs().max() <= 2 * (theirs.double() - exact).abs().max() + 1e-6 * exact.abs().max()
    xs = [logits.clone().requires_grad_(), logits.clone().requires_grad_()]
    weights = torch.randn(6)
    (bce_per_image(xs[0], target) * weights).sum().backward()
    (F.binary_cross_entropy_with_logits(xs[1], target, reduction="none").flatten(1).sum(1) * weights).sum().backward()
    torch.testing.assert_close(xs[0].grad, xs[1].grad, rtol=1e-6, atol=1e-6)


def test_bce_per_image_under_bf16_autocast_stays_float32():
    from apcore.models.autoencoder import bce_per_image

    logits = torch.randn(3, 1, 28, 28)
    target = torch.rand(3, 1, 28, 28)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        ours = bce_per_image(logits.bfloat16(), target)
    expected = F.binary_cross_entropy_with_logits(logits.bfloat16().float(), target, reduction="none").flatten(1).sum(1)
    assert ours.dtype == torch.float32
    torch.testing.assert_close(ours, expected, rtol=1e-5, atol=1e-3)


@pytest.mark.parametrize("family", FAMILIES)
def test_start_from_centres_the_input_and_sets_the_output_bias(family, images):
    model = build(family).eval()
    before = model.embed(images).detach()
    mean = images.mean(0)
    model.start_from(mean)
    # The encoder sees x - mean: the same code as the untouched model gives for x - mean.
    reference = build(family).eval()
    assert torch.allclose(model.embed(images), reference.embed(images - mean), atol=1e-5)
    assert not torch.allclose(model.embed(images), before, atol=1e-3)
    bias = model.decoder[-1].bias.detach()
    p = mean.clamp(1e-3, 1 - 1e-3)
    if bias.numel() == 784:  # an MLP: each pixel's own logit, so a zero code's last layer outputs the mean image
        assert torch.allclose(torch.sigmoid(bias), p.flatten(), atol=1e-6)
    else:  # a convolution's one output channel: the mean pixel's logit
        assert torch.allclose(bias, torch.logit(p).mean().reshape(1), atol=1e-6)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_state_dict_from_before_input_mean_loads_as_the_model_it_was(family, images):
    old = build(family, seed=3).eval()
    state = {k: v for k, v in old.state_dict().items() if k != "input_mean"}
    new = build(family, seed=4)
    new.start_from(images.mean(0))  # whatever it held is replaced
    new.load_state_dict(state)  # strict: no missing key
    new.eval()
    assert torch.count_nonzero(new.input_mean) == 0
    assert torch.equal(new.reconstruct(images), old.reconstruct(images))

"""Plain autoencoders: an MLP (784-512-256-latent, as in the lecture), a convolutional one with a
dense code, and a fully convolutional one whose code stays a stack of 7x7 feature maps.

Both decoders output logits; ``decode`` applies the sigmoid to give per-pixel probabilities, and
the loss is binary cross-entropy from the logits (:func:`bce_per_image`: no log(0) at saturated pixels).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IMAGE_SHAPE = (1, 28, 28)
MLP_HIDDEN = (512, 256)
CONV_CHANNELS = (16, 32)
CODE_CELLS = 7 * 7  # positions of the fully convolutional model's code maps


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def conv_encoder(out_features: int) -> nn.Sequential:
    c1, c2 = CONV_CHANNELS
    return nn.Sequential(
        nn.Conv2d(1, c1, 4, stride=2, padding=1), nn.ReLU(),   # (B, 16, 14, 14)
        nn.Conv2d(c1, c2, 4, stride=2, padding=1), nn.ReLU(),  # (B, 32, 7, 7)
        nn.Flatten(),
        nn.Linear(c2 * 7 * 7, 256), nn.ReLU(),
        nn.Linear(256, out_features),
    )


class SubPixelConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1)``, computed another way:
    the same parameters (checkpoints unchanged), the same function, faster on a CPU for a layer that
    makes few channels.

    Output pixel ``2q + r - 1`` (phase r in {0, 1}) gathers kernel taps ``2a + r`` (a in {0, 1})
    applied to input pixels ``q - a``: a kernel-2, stride-1 transposed convolution into 4x the
    channels (one per phase), a pixel shuffle, and a crop of one pixel each side. oneDNN runs the
    16 -> 1 output layer's stride-2 form slowly (3.8 ms of a 26 ms step of the convolutional AE
    at batch 256, its forward alone); this form made the whole step ~8 % faster (the fully
    convolutional denoiser's, batch 128: 13.9 -> 12.9 ms). For the 32 -> 16 layer it was no faster.
    """

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__(in_channels, out_channels, 4, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        i, o = self.in_channels, self.out_channels
        # weight (i, o, 4, 4), tap k = 2a + r -> (i, o * 4, 2, 2): channel o * 4 + 2 * r_y + r_x, tap (a_y, a_x)
        w = self.weight.view(i, o, 2, 2, 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(i, o * 4, 2, 2)
        y = F.pixel_shuffle(F.conv_transpose2d(x, w), 2)  # (B, o, 2H + 2, 2W + 2)
        return y[:, :, 1:-1, 1:-1] + self.bias.view(1, -1, 1, 1)


def conv_decoder(latent_dim: int) -> nn.Sequential:
    """Mirror of the encoder; kernel 4, stride 2, padding 1 doubles the size with even overlap
    (no checkerboard: every output pixel receives the same number of contributions)."""
    c1, c2 = CONV_CHANNELS
    return nn.Sequential(
        nn.Linear(latent_dim, 256), nn.ReLU(),
        nn.Linear(256, c2 * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (c2, 7, 7)),
        nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1), nn.ReLU(),  # (B, 16, 14, 14)
        SubPixelConvTranspose2d(c1, 1),                                 # (B, 1, 28, 28) logits
    )


class _BCEPerImage(torch.autograd.Function):
    """``F.binary_cross_entropy_with_logits(..., reduction="none").flatten(1).sum(1)``, computed
    with vectorised kernels only.

    PyTorch's CPU kernel takes ``log1p`` per pixel, which is not vectorised there: ~1 ms for a
    batch of 256 images on 2 cores, a tenth of an MLP autoencoder's whole training step. Here the
    per-pixel softplus is ``relu(x) - log(sigmoid(|x|))`` and the logs of a row's 28 pixels are
    taken as one log of their product (each factor is in [0.5, 1], so a row's product is at least
    2^-28: no underflow): 28x fewer logs. The gradient is PyTorch's, ``sigmoid(x) - target``.
    Accuracy against float64 matches PyTorch's own float32 result
    (``tests/test_models.py::test_bce_per_image_is_pytorchs``).
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        x, t = logits.flatten(1), target.flatten(1)
        p = torch.sigmoid(x)
        sig_abs = torch.maximum(p, 1 - p)  # sigmoid(|x|), in [0.5, 1]
        log_sig_abs = sig_abs.unflatten(1, (-1, IMAGE_SHAPE[-1])).prod(-1).log_().sum(1)  # per image row
        linear = x.clamp_min(0).addcmul_(t, x, value=-1)  # relu(x) - t*x, never negative
        ctx.save_for_backward(p, t)
        ctx.shape = logits.shape
        return linear.sum(1) - log_sig_abs

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        p, t = ctx.saved_tensors
        return ((p - t) * grad[:, None]).view(ctx.shape), None


def _zero_input_mean_if_absent(module, state_dict, prefix, *_):
    """Load hook: a state dict saved before :attr:`Autoencoder.input_mean` existed takes it as zero."""
    state_dict.setdefault(prefix + "input_mean", torch.zeros(IMAGE_SHAPE))


def bce_per_image(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy summed over pixels: (B, 1, 28, 28) x 2 -> (B,), in float32 (logits
    computed under bfloat16 autocast are cast up: a sum over 784 pixels needs the precision).
    The same numbers as ``binary_cross_entropy_with_logits``, ~4x as fast (:class:`_BCEPerImage`)."""
    return _BCEPerImage.apply(logits.float(), target.float())


class Autoencoder(nn.Module):
    """Shared behaviour of every model: encode -> code, decode -> image, named loss terms.

    ``latent_dim`` is the config's; ``code_size`` the length of the code vector ``encode`` returns
    and ``decode`` takes (the same number except for the fully convolutional model).

    The encoder sees each image minus ``input_mean`` (a buffer, saved with the weights): zero
    unless training started from the data (:meth:`start_from`). A checkpoint saved before the
    buffer existed loads with it zero, which is the model it was.

    A convolutional model keeps its convolution weights and its input channels-last
    (:meth:`use_channels_last`): oneDNN's faster layout for these small convolutions on a CPU.
    Measured on a 2-core Intel Xeon with AMX (bfloat16): the conv AE's step at batch 64 11.6 -> 10.4
    ms (interleaved in one process); its training 10.7 -> 9.3 s (latent 5, seeds 0 and 1), the conv
    VAE's 18.4 -> 15.5 s (latent 20; fresh processes in turn), the same test losses to the last
    printed digit; the fully convolutional denoiser ~1.4x per step (AMD EPYC, float32)."""

    is_vae = False
    channels_last = False  # set by use_channels_last

    def __init__(self, latent_dim: int, code_size: int | None = None):
        super().__init__()
        self.latent_dim = latent_dim
        self.code_size = code_size or latent_dim
        self.register_buffer("input_mean", torch.zeros(IMAGE_SHAPE))
        self.register_load_state_dict_pre_hook(_zero_input_mean_if_absent)

    def start_from(self, mean_image: torch.Tensor) -> None:
        """Start training from the data's mean image (1, 28, 28), in [0, 1]: the encoder sees each
        image minus it (centred inputs), and the output layer's bias is the logit of each pixel's
        mean (a convolution's one bias: the mean of those logits), so the first steps are not spent
        learning the average digit (:data:`apcore.defaults.DATA_START`)."""
        out = self.decoder[-1]
        logit = torch.logit(mean_image.to(out.bias).clamp(1e-3, 1 - 1e-3))
        with torch.no_grad():
            self.input_mean.copy_(mean_image)
            out.bias.copy_(logit.reshape(out.bias.shape) if out.bias.numel() == logit.numel() else logit.mean())

    def centred(self, x: torch.Tensor) -> torch.Tensor:
        """What the encoder takes: ``x`` minus :attr:`input_mean` (channels-last for a model that
        is: :meth:`use_channels_last`)."""
        x = x - self.input_mean
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def use_channels_last(self) -> None:
        """Store the convolution weights channels-last, and take inputs so (:meth:`centred`). The
        same function and state dict keys: checkpoints load either way."""
        self.channels_last = True
        self.to(memory_format=torch.channels_last)

    @property
    def device(self) -> torch.device:
        """Where the weights are. Every computation with a trained model runs there: the device is
        chosen once, by ``apcore.train.pick_device``, for the store that trains and loads models."""
        return next(self.parameters()).device

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) in [0, 1] -> (B, code_size)."""
        return self.encoder(self.centred(x))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        """(B, code_size) -> (B, 1, 28, 28) logits."""
        return self.decoder(z).view(-1, *IMAGE_SHAPE)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(B, code_size) -> (B, 1, 28, 28) pixel probabilities."""
        return torch.sigmoid(self.decode_logits(z))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """The deterministic code used for plots and clustering: (B, code_size)."""
        return self.encode(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 1, 28, 28) -> reconstruction logits (B, 1, 28, 28)."""
        return self.decode_logits(self.encode(x))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Deterministic reconstruction as probabilities (a VAE decodes its mean)."""
        return self.decode(self.embed(x))

    def loss_terms(self, x: torch.Tensor, target: torch.Tensor,
                   generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Per-image terms, shape (B,) each; ``loss`` is what training minimises.
        ``generator`` seeds a VAE's sampling; a plain autoencoder ignores it."""
        return self.terms_from_logits(self(x), target)

    @staticmethod
    def terms_from_logits(logits: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        recon = bce_per_image(logits, target)
        return {"loss": recon, "recon": recon}

    def terms_and_reconstruction(self, x: torch.Tensor, target: torch.Tensor,
                                 generator: torch.Generator | None = None) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
        """``loss_terms`` and the deterministic reconstruction of ``x``, from one forward pass: a
        plain autoencoder's loss is that of its reconstruction (a VAE's loss decodes a sample)."""
        logits = self(x)
        return self.terms_from_logits(logits, target), torch.sigmoid(logits)

    def loss(self, x: torch.Tensor, target: torch.Tensor | None = None,
             generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """Mean over the batch of each term: BCE summed over pixels, per image."""
        terms = self.loss_terms(x, x if target is None else target, generator)
        return {k: v.mean() for k, v in terms.items()}


class MLPAutoencoder(Autoencoder):
    def __init__(self, latent_dim: int, hidden: tuple[int, ...] = MLP_HIDDEN):
        super().__init__(latent_dim)
        self.encoder = nn.Sequential(nn.Flatten(), mlp([784, *hidden, latent_dim]))
        self.decoder = mlp([latent_dim, *reversed(hidden), 784])


class ConvAutoencoder(Autoencoder):
    def __init__(self, latent_dim: int):
        super().__init__(latent_dim)
        self.encoder = conv_encoder(latent_dim)
        self.decoder = conv_decoder(latent_dim)
        self.use_channels_last()


class FullyConvAutoencoder(Autoencoder):
    """The denoising lab's convolutional autoencoder: no dense layer, the code is ``latent_dim``
    feature maps of 7x7 (8 maps: 392 numbers for 784 pixels), flattened to a vector outside.

    Batch normalisation after every hidden convolution: at Gaussian noise 0.5 and the same 2-epoch
    CPU budget it lifts the test PSNR from 18.5 to 19.6 dB; a 3x3 convolution on each side of the
    code (more context per code cell) to 19.9 dB; 3 epochs: 20.1 dB (``bench/results/denoise.md``);
    2 epochs at batch 64 with Adam's beta2 at 0.99: 20.14 dB; today's budget, 1 epoch at batch 64
    at a tenfold rate, which batch normalisation keeps stable (beta1 0.8, a warm-up): 20.12-20.16 dB
    in half the time (:data:`apcore.defaults.TRAINING`).
    """

    def __init__(self, latent_dim: int):
        super().__init__(latent_dim, latent_dim * CODE_CELLS)
        c1, c2 = CONV_CHANNELS
        self.encoder = nn.Sequential(
            *conv_bn(nn.Conv2d(1, c1, 4, stride=2, padding=1)),    # (B, 16, 14, 14)
            *conv_bn(nn.Conv2d(c1, c2, 4, stride=2, padding=1)),   # (B, 32, 7, 7)
            *conv_bn(nn.Conv2d(c2, c2, 3, padding=1)),
            nn.Conv2d(c2, latent_dim, 1),                          # (B, latent_dim, 7, 7): the code
            nn.Flatten(),
        )
        self.decoder = nn.Sequential(
            nn.Unflatten(1, (latent_dim, 7, 7)),
            *conv_bn(nn.Conv2d(latent_dim, c2, 3, padding=1)),
            *conv_bn(nn.ConvTranspose2d(c2, c1, 4, stride=2, padding=1)),  # (B, 16, 14, 14)
            SubPixelConvTranspose2d(c1, 1),                               # (B, 1, 28, 28) logits
        )
        self.use_channels_last()


def conv_bn(conv: nn.Module) -> tuple[nn.Module, ...]:
    """A convolution, batch normalisation of its channels, ReLU."""
    return conv, nn.BatchNorm2d(conv.out_channels), nn.ReLU()

"""Training budgets, and the models each page shows: the one place for both.

Budgets are measured on the 2-core CPUs (``bench/train_defaults.py``): a page's default model is
ready in 4-16 s on the Intel Xeon with AMX, as fast as the shared machine is at the moment (the MLP
AEs, the conv AE and both MLP VAEs 4-11 s; the clustering AE 10-13 s, the convolutional denoiser
12-15 s in slow hours), in 3.7-6.0 s on the AMD EPYC with AVX512-BF16 (no AMX); the
20-d MLP VAE reaches a test loss <= 104 within its budget (6 x 512: 103.6-104.0 over training seeds 0-4).

A config's budget (epochs, batch size, learning rate, training images) is built in layers, each
over the one before: the family's budget (:data:`TRAINING`; by code size: :func:`family_budget`);
the page's own adjustment (one-class epochs, the clustering AE's batch, "train longer"); the test
override ``APCORE_EPOCHS`` / ``APCORE_TRAIN_LIMIT``, applied here once, last (:func:`default_config`).
Only a value a caller names itself (the command line's ``--epochs``, a test's ``epochs=1``) goes over
the override.

The command line asks the same functions (:func:`page_model`), so ``python -m apcore train ae-mlp
--latent-dim 16 --normal-classes 0`` is the anomaly page's model, checkpoint included.
"""

from __future__ import annotations

import os
from typing import Callable

from .config import ConfigError, ModelConfig

# epochs, batch size, learning rate per family (cosine decay to zero over the epochs); the conv AE
# also a number of training images (its one epoch is 48,000 of the 60,000: below).
TRAINING = {
    "ae-mlp": {"epochs": 3, "batch_size": 256, "lr": 2e-3},
    "ae-conv": {"epochs": 1, "batch_size": 64, "lr": 4e-3, "train_limit": 48_000},
    "ae-fconv": {"epochs": 1, "batch_size": 64, "lr": 5e-2},
    "vae-mlp": {"epochs": 6, "batch_size": 512, "lr": 1.5e-2},
    "vae-conv": {"epochs": 2, "batch_size": 128, "lr": 3e-3},
}

# The convolutional models learn more per image in small batches: 1 epoch at batch 64 is twice
# the Adam steps of 2 epochs at 256, each on a quarter of the images, and a step at 64 takes less
# than half the time of one at 256 here. Measured (bf16, AMD EPYC, 2 threads, one process), test
# BCE of the conv AE, 2 x 256 at lr 3e-3 (the budget before) against 1 x 64 at 4e-3, training
# seeds 0 / 1: 2-d 155.7 -> 148.8 / 150.3, 5-d 121.2 -> 113.3 / 111.6, 10-d 99.1 -> 90.8 / 88.3,
# 20-d 91.7 -> 80.0 / 82.4; the 5-d model's training 9.1-10.3 s -> 7.0-7.3 s in turn, then
# 13.8-14.8 s -> 9.6-9.8 s in a slower hour (0.68-0.76x; 0.89x between bench/train_speed.py's
# epochs, a run apart). 1 x 64 at 3e-3 was between (5-d 114.8 / 114.2), at 5e-3 worse at
# 20-d (86.2); 1 x 128: 5-d 123.5. The conv VAE keeps two epochs (the VAE page draws its loss per
# epoch) at batch 128: test loss 2-d 170.4 -> 158.4, 20-d 139.2 -> 116.3 against 2 x 256, in about
# the same time (1 x 64 at 4e-3: 160.4 / 122.0). The MLPs gain little from it (the MLP AE's 5-d
# code, 2 x 64: 108.3 in the time 4 x 256 reaches 110.5; 1 x 64: 114.1), nor the 2-D VAE (4 x 64:
# 144.2 / 146.0 / 145.1 over seeds 0-2, above its floor). The fully convolutional denoiser
# gained only with Adam's beta2 at 0.99 (ADAM_BETAS, below): 3 x 128 had been at its floor (20.098 /
# 20.087 dB, seeds 0 / 1, Intel Xeon with AMX; 2 x 64 on the AMD EPYC 20.108 / 20.098 / 20.097).
# With beta2 0.99 (Intel Xeon with AMX, bf16, seeds 0 / 1 / 2): 3 x 128 20.149 / 20.132 / 20.129;
# 2 x 64 20.148 / 20.139 / 20.135 in 0.84-0.95x its time (epochs timed in turn, one process). Not
# kept, seed 0: 2 x 64 on 45,000 images 20.072 (lr 6e-3: 20.083); 3 x 128 on 40,000 20.035 (seed 1
# 20.019); 1 x 64 19.944; 1 x 32 at 3e-3 19.997: at lr 5e-3 the floor needed ~1,900 steps of 64.
# Now 1 x 64 at lr 5e-2, with Adam's beta1 at 0.8 and a warm-up over a tenth of the steps
# (ADAM_BETAS, WARMUP): batch normalisation keeps ten times the rate stable, and half the steps
# reach what 2 x 64 at 5e-3 did. Measured (Intel Xeon with AMX, bf16, 2 threads, one process;
# bench/denoise.py's --variant, bench/results/denoise.md), test PSNR at Gaussian 0.5, training seeds
# 0-4, 2 x 64 at 5e-3 -> 1 x 64 at 5e-2: 20.148 / 20.139 / 20.135 / 20.129 / 20.118 -> 20.120 /
# 20.126 / 20.117 / 20.130 / 20.155 dB (seeds 5 / 6 / 100-102: 20.129 / 20.135 / 20.106-20.139),
# trained in 0.47-0.55x the time, ready in 0.54-0.56x; salt-and-pepper 0.3, seeds 0-2: 21.99 /
# 21.80 / 21.97 -> 22.16 / 22.24 / 22.07; masking 0.5: 22.65 / 22.54 / 22.70 -> 22.70 / 22.50 /
# 22.67; seed 0: Gaussian 0.9 16.25 -> 16.23, 0.1 28.29 -> 28.13; salt-and-pepper 0.9 12.24 -> 12.60;
# masking 0.9 15.29 -> 15.09; Fashion-MNIST 18.75 -> 18.75; "train longer" (LONGER: 5 epochs,
# was 10) 20.41 -> 20.40 in 0.48x the time. On the way, seed 0 / 1, 1 x 64 (19.944 at 5e-3 plain):
# beta1 0.8 alone 19.986; warm-up 0.05 at 8e-3 19.989; both at 8e-3 20.017 / 20.010, 1.2e-2
# 20.059 / 20.057, 2.2e-2 20.098 / 20.102, 4e-2 20.106 / 20.104; warm-up 0.1 at 4e-2 20.125 /
# 20.117 (without beta1 0.8: 20.086 / 20.096), 6e-2 20.122 / 20.127; warm-up 0.2: no better.
# Not kept: beta1 0.95 19.866, NAdam 19.927; 1 x 32 (both at 1.2e-2: 20.108 / 20.106, but 1.4x
# the time of 1 x 64); BN statistics recomputed over 80 batches after training (the same PSNR to
# the third decimal: the rate decays to zero, so the running means are already the last weights');
# training on random 20x20 / 24x24 crops (0.79x / 0.97x the time, 19.77 / 19.98 dB at 2 x 64).
# The conv AE's epoch is 48,000 of the 60,000 training images (750 steps): ready in ~0.8x the
# time, its test BCE still under the figures it had when issue 14 was filed (2 x 256: 157.7 /
# 121.0 / 97.3 / 93.6 at 2 / 5 / 10 / 20). Measured (bf16, AMD EPYC, one process), seeds 0 / 1,
# all 60,000 -> 48,000 images: 2-d 148.8 / 150.3 -> 150.4 / 152.4, 5-d 113.3 / 111.6 -> 116.5 /
# 114.8, 10-d 90.8 / 88.3 -> 93.1 / 92.5, 20-d 80.0 / 82.4 -> 85.6 / 83.7; training 9.6-12.0 s ->
# 6.2-8.9 s. 48,000 at lr 5e-3: 149.4-153.6, 113.2-113.9, 90.5-97.4, 89.5-97.4 (less steady).
# Then Adam's beta1 at 0.8 (ADAM_BETAS), the same steps: test BCE lower at every code size, in the
# same time. Measured (Intel Xeon with AMX, bf16, 2 threads, one process; seeds 0-4, beta1 0.9 ->
# 0.8; bench/recipes.py, bench/results/recipes.md): 2-d 150.53 / 152.84 / 150.48 / 153.62 / 151.07
# -> 149.25 / 150.08 / 148.93 / 151.93 / 150.86 (mean 151.7 -> 150.2); 5-d 116.58 / 114.47 /
# 114.13 / 117.04 / 118.33 -> 116.41 / 112.93 / 114.46 / 115.66 / 115.97 (116.1 -> 115.1); 10-d
# 92.92 / 92.74 / 92.15 / 93.21 / 93.66 -> 90.64 / 92.31 / 91.00 / 90.88 / 90.95 (92.9 -> 91.2);
# 20-d 84.41 / 85.63 / 87.42 / 82.07 / 87.43 -> 81.66 / 81.28 / 83.26 / 82.33 / 86.53 (85.4 ->
# 83.0); Fashion-MNIST 5-d, seeds 0 / 1: 238.60 / 237.50 -> 239.61 / 236.87. The anomaly page's
# one-class CNN (the same family; 20 x 256, bench/anomaly.py --family ae-conv): mean AUROC over
# the ten digits, squared error 0.958 -> 0.961, BCE 0.912 -> 0.914 (digit 8 0.886 -> 0.881, the
# rest within +-0.001 or higher). Not kept: the gain spent on fewer images, beta1 0.8 on 42,000
# (0.88x the steps): seeds 0-4 within the floors above but for the 20-d code's seed 4 (96.68); on
# 36,000: 10-d seed 0 99.83; on 30,000: 2-d 158.31, 10-d 106.82.

# The MLP VAE (a code of more than 2 numbers): batch 512, 6 epochs at lr 1.5e-2 (about sqrt(2) x
# batch 256's rate). A step at 512 takes ~1.4x one at 256 here: the weights' casts and Adam's passes
# over them, a fixed cost per step, are shared by twice the images. Measured (bf16, Intel Xeon with
# AMX, 2 threads), against the 5 x 256 at lr 1e-2 before it: ready 7.26 -> 6.09 s (medians of four,
# the two interleaved, training seeds 100-103: test loss 103.74-103.95 -> 103.62-103.81); test loss
# over training seeds 0-4 103.98 / 103.64 / 103.66 / 103.84 / 103.96 (5 x 256: 103.96 / 103.78 /
# 103.86 / 103.85 / 104.02); Fashion-MNIST seeds 0-9 242.42-242.77 (5 x 256, seeds 0 / 1: 242.32 /
# 242.56); latent 64, 3, and beta 0.1 / 8 within +-1.5 of 5 x 256, none diverging; the clustering
# page's VAE mean through UMAP (training seeds 0-4 x UMAP seeds 0-1): k-means 0.943-0.953 (before
# 0.941-0.949), the Gaussian mixture 0.947-0.957 but one 0.808 (before 0.946-0.954, one 0.829).
# Not kept: lr 2e-2 (MNIST 103.54-103.69, but Fashion-MNIST seed 1 diverged to 3033), 2.5e-2 /
# 3e-2 (103.5-103.7, nearer that edge); 5 x 512 at 2e-2 104.00-104.06; 8 x 1024 at 3e-2
# 103.54-103.61 in about the same time as 6 x 512. The 2-D VAE keeps batch 256 (VAE_2D_TRAINING): its 784-512-256-2 layers gain
# little per image from 512 (6 x 512 at 1.25e-2 142.65-143.73 over seeds 0-4 but 1.08x the time;
# 5 x 512: 143.7-144.8).
# Before, batch 256 rather than 128 (the steps are ~1.4x as fast per image at these layer sizes)
# at 2.5x the learning rate, started from the data with beta2 0.99 (DATA_START, below).
# Measured (bf16, AMD EPYC, one process), the 20-d model's test loss over training seeds 0-4 and
# its training seconds: 5 x 256 at lr 1e-2: 103.97 / 103.76 / 103.86 / 103.85 / 104.02 in 6.3-9.1 s;
# 6 x 256: 103.53 / 103.33 / 103.42 in 9.9-10.3 s; 4 x 256: 104.54 / 104.28 / 104.46 in 5.9-6.8 s
# (TARGETS.md asks <= 104 within the budget; issue 14's floor is 105.6). Before DATA_START, 6 x 256
# at lr 1e-2 gave 105.20 / 105.36 / 105.04 / 104.98 / 105.30 in 7.8-9.5 s; and not kept then: 6 x
# 256 at 1.2e-2, seeds 0-5: 104.62-105.56; at 9e-3: 105.40-105.42; at 1.4e-2: 104.93-105.66; 6 x
# 320 at 1.2e-2: 105.68-106.38; 7 x 384 at 1.1e-2: 105.50-106.29; 8 x 512 at 1.4e-2: 106.41-107.14.
# The 2-D model (784-512-256-2, apcore.models.vae), with DATA_START: 4 x 256 at lr 1e-2, test loss
# over seeds 0-4 143.72 / 144.03 / 143.42 / 144.13 / 143.36 in 8.6-9.7 s (issue 14's floor 145);
# at lr 8e-3: 143.38 / 144.03 / 144.91; 1.2e-2: 144.18 / 144.27 / 144.16; 6e-3: up to 145.35;
# 5 x 256 at 8e-3: 142.59-144.28 in 10.8 s; 3 x 128 at 4e-3: 144.39 / 144.67 / 145.22; 3 x 192 at
# 6e-3: 144.64-145.35. Before DATA_START it kept batch 128 (6 x 128 at 4e-3: 143.60 / 142.98 /
# 142.51 in ~17 s), as batch 256 then lost 1-3 (6 epochs, lr 8e-3: 143.93 / 144.30 / 145.22).
VAE_2D_TRAINING = {"epochs": 4, "batch_size": 256, "lr": 1e-2}

# Learning-rate warm-up before the cosine decay, as a fraction of the steps (apcore.train.fit).
# Measured with the budgets below (bf16, seed 0): the 20-d MLP VAE 105.7 -> 104.9 with it; the
# convolutional AE's 20-d code 91.6 -> 99.7 with it (worse), the MLP AE and the denoisers unchanged
# at their rates then. The fully convolutional denoiser's tenfold rate needs it (above).
WARMUP = {"vae-mlp": 0.05, "vae-conv": 0.05, "ae-fconv": 0.1}

# Families whose training starts from the data and whose Adam forgets faster (apcore.train.fit): the
# encoder sees each image minus the training images' mean image, the output layer's bias starts at
# the logit of each pixel's mean (Autoencoder.start_from), and Adam's beta2 is 0.99 (0.999
# elsewhere; the fully convolutional denoiser has beta2 0.99 alone). Measured (bf16, AMD EPYC, one
# process), test loss, training seeds 0 / 1 / 2, before -> with all three: the 20-d MLP VAE at 6 x
# 256 105.20 / 105.36 / 105.04 -> 103.53 / 103.33 / 103.42; the 2-D VAE at 3 x 128, lr 4e-3: 148.08
# / 147.90 -> 144.49 / 144.69 / 144.69 (the output bias alone 145.40 / 145.68, beta2 alone 146.55 /
# 146.36, centring alone 147.53 / 147.92; bias and beta2 without centring 144.80 / 145.21 / 145.52);
# the MLP AE's 5-d code at 4 x 256: 110.49 / 110.29 -> 106.21 / 105.75. So the MLP AE trains 3
# epochs, not 4: test BCE at codes 2 / 5 / 10 / 20 (seed 0) 140.59 / 108.25 / 84.33 / 72.91 in
# 6.2-6.5 s, against 141.79 / 110.49 / 90.88 / 83.41 at 4 x 256 before; the denoising page's MLP
# 17.67 dB (4 x 256 before: 16.18; now at 4 x 256: 18.06). Not for the convolutional models: the
# conv AE's 5-d code 116.47 / 114.85 -> 112.67 / 114.19 (1 x 64), but the denoiser 19.98 / 19.96 ->
# 19.76 / 19.78 dB (2 x 128; beta2 alone 20.03 / 20.01, and so beta2 alone for it: above; it also
# has beta1 0.8, for its one epoch at a high rate: above).
DATA_START = ("ae-mlp", "vae-mlp")
ADAM_BETAS = {"ae-mlp": (0.9, 0.99), "vae-mlp": (0.9, 0.99), "ae-fconv": (0.8, 0.99),
              "ae-conv": (0.8, 0.999)}  # (0.9, 0.999) elsewhere; the conv AE's beta1: above

# Families trained under bfloat16 autocast on a CPU with native bf16 (apcore.train.autocast_dtype).
# Measured on an AMD EPYC with AVX512-BF16 at these budgets: the MLP VAE 1.5x faster per step (1
# thread), its floors met (20-d 104.9, 2-d 143.6); the fully convolutional denoiser 1.1x, 20.10 dB
# as in float32. The plain autoencoders, test BCE over seeds (fp32 -> bf16, same seeds): MLP 5-d
# code, seeds 1-3: 110.40 +- 0.17 -> 109.97 +- 0.49, 14.9 s -> 9.8 s; MLP 10-d, seeds 0-2: 89.23 ->
# 89.60 (spread +- 0.7 / 1.3); conv 10-d, seeds 1-3: 104.8 / 101.2 / 100.2 -> 104.7 / 100.2 / 97.1.
# A single seed-0 run had suggested bf16 was worse for them (MLP 5-d 110.31 -> 111.19): within
# the seeds' spread. Every page default with these: bench/results/train_defaults_cpu.md.
# The clustering page's AE too, since it trains 8 epochs (below): at 4 epochs it had stayed float32.
BF16_FAMILIES = ("ae-mlp", "ae-conv", "ae-fconv", "vae-mlp", "vae-conv")

# One-class budgets. A class has ~6,000 training images, so an epoch is ~23 steps at batch 256
# and the full-data budgets above would stop after ~70 steps. Measured (bench/anomaly.py, mean
# AUROC over the ten digits, squared-error score): ae-mlp latent 16, 10 / 20 / 30 / 50 epochs ->
# 0.927 / 0.951 / 0.962 / 0.965; 30 epochs of the largest class train in 15 s on 2 CPU threads.
# ae-conv latent 16: 20 epochs -> 0.956 in ~21 s (30 epochs: 0.962, 32 s). Under bf16 (AMD EPYC,
# AVX512-BF16), ae-mlp: 30 epochs -> 0.958, 36 epochs -> 0.962 in 7.1 s per digit on 2 threads;
# with DATA_START (above) 36 epochs -> 0.966 (bench/results/anomaly.md), no digit lower.
# Every image of the normal classes (train_limit 0: not the conv AE's 48,000 of :data:`TRAINING`).
ONE_CLASS_TRAINING = {
    "ae-mlp": {"epochs": 36, "batch_size": 256, "lr": 2e-3, "train_limit": 0},
    "ae-conv": {"epochs": 20, "batch_size": 256, "lr": 3e-3, "train_limit": 0},
}

# The clustering AE: batch 128 instead of 256 (twice the Adam steps), at twice the learning rate.
# Measured (MNIST, AE -> UMAP -> k-means): latent 20 or 32 at batch 128, lr 2e-3 -> accuracy
# 0.918-0.925, NMI 0.86 (3 training seeds x 2 UMAP seeds); batch 256 -> 0.76-0.85; latent 10 ->
# 0.72-0.78 whatever the batch (a 10-d code after 4 epochs merges 4 with 9). Hence latent 20. But
# 4 epochs were at the floor's edge and not robust: training seeds 0-2 x UMAP seeds 0-2, float32,
# accuracy mean 0.860, min 0.785 (the page's own 0.919 / NMI 0.857; floor 0.92 / 0.86); bf16 6
# epochs: the page's seed 0.795. 8 epochs under bf16 (AMD EPYC, AVX512-BF16): mean 0.931, min
# 0.925, NMI mean 0.877, min 0.868 over the same 3 x 3 seeds; 8 epochs in float32 (a CPU without
# bf16): the page's seed 0.799 / 0.841 (bench/umap_options.py on each model).
# Not kept: 4 x 64 at lr 2e-3, in 0.68-0.87x the time: k-means after UMAP 0.934-0.938 / NMI
# 0.877-0.885 over 3 training x 2 UMAP seeds, but the page's Gaussian mixture after UMAP fell from
# 0.941-0.952 to 0.818-0.836 (bench/clustering.py, training seeds 0-2); 3 x 64: 0.919-0.921
# (seed 0), at 3e-3: 0.795-0.942; 2 x 64: 0.784-0.921; 4 x 64 in float32: 0.796.
# With DATA_START (above), 8 x 128, training seeds 0-2: k-means after UMAP 0.953 / 0.951 / 0.955, NMI
# 0.898-0.902; the Gaussian mixture 0.962-0.964 (apcore.cluster.GMM_RESTARTS). Shorter, not kept:
# 6 x 128: k-means 0.950-0.951, but seed 0's mixture 0.841; 4 x 128: seed 0's k-means 0.804;
# 4 x 256: 0.792 (all at lr 2e-3).
# Then a higher learning rate, 4 x 128 at lr 4e-3 (Intel Xeon with AMX, bf16; UMAP seeds 0 and 1,
# the page's mixture with its restarts): k-means after UMAP 0.947-0.954 / NMI 0.891-0.903, the
# mixture 0.951-0.963 over training seeds 0-6 (14 runs), trained in 13.5-18 s against 26 s; in
# float32 (a CPU without bf16, where 8 x 128 at 2e-3 had clustered at 0.799) seeds 0 / 1: 0.949 /
# 0.948. Shorter, not kept (k-means after UMAP): 3 x 128 at 5e-3 0.940-0.951, but training seed 3
# with UMAP seed 0 0.809 (two digits merged); 2 x 128 at 5e-3 0.933-0.945, at 8e-3 0.797; 3 x 256
# at 8e-3 0.930-0.934, at 5e-3 0.928-0.942: too near the floor. The page's UMAP adds ~5.7 s (150
# single-threaded epochs, seeded).
# Now batch 384, 6 epochs at lr 7e-3 (936 steps for 1,876): the fixed cost of a step (weights' casts,
# Adam's passes) shared by three times the images, as for the 20-d VAE. Measured (Intel Xeon with
# AMX, bf16), against 4 x 128 at 4e-3: ready 13.27 -> 10.28 s (medians of four, the two interleaved
# behind the worker's warm-up; 0.70-0.86x over eight pairs in two runs); k-means after UMAP, training
# seeds 0-15 x UMAP seeds 0-1, 0.939-0.951 / NMI 0.884-0.896 but for training seed 10 (0.809 / 0.810,
# two digits merged); 4 x 128 over seeds 0-6 and 10-13 0.945-0.954 but for seed 10 with UMAP seed
# 1 (0.806). The mixture (with the k-means partition as a start: apcore.cluster.GMM_RESTARTS)
# 0.949-0.959 over those 32. Float32, seeds 0 / 1: 0.939 / 0.947. Fashion-MNIST test BCE, seeds
# 0-2, 217.6-220.2 (4 x 128: 215.5-216.0). Not kept: 5 x 384 at 6e-3 (0.62x) merged three times in
# 24 (training seeds 10 and 11: 0.797-0.808); 6 x 512 at 8e-3 (0.73x) 0.935-0.948 over 14; 8 x 512
# at 8e-3 merged for seed 0 (0.804), 4 and 5 x 512 at 1e-2 for seed 1 (0.795-0.807). Nor the
# denoising CNN's recipe (beta1 0.8, warm-up 0.1, a higher rate: this MLP has no batch norm), seeds
# 0 / 1 x UMAP seeds 0 / 1: 3 x 384 at 1.5e-2 merged in 3 of 4 (0.790-0.796), 4 x 384 at 1.2e-2 in
# 1 of 4 (0.801), 3 x 512 at 2e-2 in all four (0.773-0.781).
CLUSTER_AE_TRAINING = {"epochs": 6, "batch_size": 384, "lr": 7e-3}

LONGER = 5  # the denoising page's "train longer": epochs x 5 (worth it on a GPU; bench/denoise.py)

# What each page shows before any widget moves; the pages' widgets start from these.
LATENT = 2                      # autoencoder and VAE pages: the slides' 2-D code
AE_LATENTS = (2, 5, 10, 20)     # the autoencoder page's sizes trained before class (slides contrast 2 and 5)
VAE_LATENTS = (2, 20)           # the VAE page: the 2-D latent grid, and the 20-d model of the loss target
ANOMALY_FAMILIES = ("ae-mlp", "ae-conv")
ANOMALY_FAMILY, ANOMALY_LATENT, ANOMALY_NORMAL = "ae-mlp", 16, (0,)
DENOISERS = {"ae-mlp": 32, "ae-fconv": 8}   # MLP with a 32-d code; fully convolutional, 8 maps of 7x7
DENOISE_NOISE, DENOISE_LEVEL = "gaussian", 0.5
CLUSTER_LATENT = 20


def quick_budget() -> dict:
    """Overrides from ``APCORE_EPOCHS`` / ``APCORE_TRAIN_LIMIT`` (tiny models for tests and rehearsals)."""
    out = {}
    if os.environ.get("APCORE_EPOCHS"):
        out["epochs"] = int(os.environ["APCORE_EPOCHS"])
    if os.environ.get("APCORE_TRAIN_LIMIT"):
        out["train_limit"] = int(os.environ["APCORE_TRAIN_LIMIT"])
    return out


def family_budget(family: str, latent_dim: int) -> dict:
    """The training budget of ``family`` for a code of ``latent_dim`` numbers (:data:`TRAINING`;
    the 2-D MLP VAE, a model of other layers: :data:`VAE_2D_TRAINING`)."""
    if family == "vae-mlp" and latent_dim <= 2:
        return VAE_2D_TRAINING
    return TRAINING.get(family, {})


def default_config(family: str, budget: dict | None = None, **fields) -> ModelConfig:
    """``family`` with its training budget (:func:`family_budget`), updated by a page's ``budget``,
    then by the test override (:func:`quick_budget`); ``fields`` (latent_dim, dataset, ..., or a
    budget value the caller chooses itself) go over all of them."""
    own = family_budget(family, fields.get("latent_dim", ModelConfig.latent_dim))
    return ModelConfig(family=family, **{**own, **(budget or {}), **quick_budget(), **fields})


def anomaly_config(family: str, latent_dim: int, normal_classes, dataset: str = "mnist") -> ModelConfig:
    """The anomaly page's one-class model: its budget in steps stays about the same whatever the
    number of normal classes (epochs divided by it)."""
    budget = dict(ONE_CLASS_TRAINING.get(family, ONE_CLASS_TRAINING["ae-mlp"]))
    budget["epochs"] = max(2, round(budget["epochs"] / max(1, len(normal_classes))))
    return default_config(family, budget, latent_dim=latent_dim, normal_classes=tuple(normal_classes), dataset=dataset)


def denoiser_config(family: str, noise: str = DENOISE_NOISE, noise_level: float = DENOISE_LEVEL,
                    dataset: str = "mnist", longer: bool = False, latent_dim: int | None = None) -> ModelConfig:
    """The denoising page's model of ``family`` (its code size from :data:`DENOISERS` unless
    given), trained at ``noise`` / ``noise_level``; ``longer``: :data:`LONGER` times the epochs."""
    budget = {"epochs": TRAINING[family]["epochs"] * LONGER} if longer else None
    return default_config(family, budget, latent_dim=latent_dim or DENOISERS[family], dataset=dataset,
                          noise=noise, noise_level=round(noise_level, 2))


def cluster_ae_config(latent_dim: int = CLUSTER_LATENT, dataset: str = "mnist") -> ModelConfig:
    """The MLP autoencoder whose code the clustering page clusters."""
    return default_config("ae-mlp", CLUSTER_AE_TRAINING, latent_dim=latent_dim, dataset=dataset)


def cluster_vae_config(latent_dim: int = CLUSTER_LATENT, dataset: str = "mnist") -> ModelConfig:
    """The MLP VAE whose mean the clustering page clusters (its ordinary budget: at latent 20 the
    VAE page's own model, trained once for both)."""
    return default_config("vae-mlp", latent_dim=latent_dim, dataset=dataset)


def adam_betas(family: str) -> tuple[float, float]:
    """Adam's (beta1, beta2) for ``family`` (:data:`ADAM_BETAS`; PyTorch's defaults elsewhere)."""
    return ADAM_BETAS.get(family, (0.9, 0.999))


def bf16_eligible(config: ModelConfig) -> bool:
    """Whether ``config`` may train under bfloat16 where the CPU has it (:data:`BF16_FAMILIES`)."""
    return config.family in BF16_FAMILIES


def page_defaults() -> dict[str, list[ModelConfig]]:
    """The configs each page shows without any widget moved (what ``python -m apcore warm`` trains)."""
    return {
        "autoencoder": [default_config(f, latent_dim=d) for f in ("ae-mlp", "ae-conv") for d in AE_LATENTS],
        "vae": [default_config("vae-mlp", latent_dim=VAE_LATENTS[0]), default_config("ae-mlp", latent_dim=LATENT),
                default_config("vae-mlp", latent_dim=VAE_LATENTS[1])],
        "anomaly": [anomaly_config(ANOMALY_FAMILY, ANOMALY_LATENT, ANOMALY_NORMAL)],
        "denoise": [denoiser_config(f) for f in DENOISERS],
        "clustering": [cluster_ae_config(), cluster_vae_config()],
    }


def warm_list() -> list[ModelConfig]:
    """Every page default once, in page order."""
    seen: dict[str, ModelConfig] = {}
    for configs in page_defaults().values():
        for c in configs:
            seen.setdefault(c.key, c)
    return list(seen.values())


# -- which page trains a model like this one ------------------------------------------------------

def _plain(c: ModelConfig) -> bool:
    return not (c.is_denoising or c.is_one_class)


def _autoencoder_page(c: ModelConfig) -> list[ModelConfig]:
    if c.family in ("ae-mlp", "ae-conv") and _plain(c):
        return [default_config(c.family, latent_dim=c.latent_dim, dataset=c.dataset)]
    return []


def _vae_page(c: ModelConfig) -> list[ModelConfig]:
    if c.is_vae and _plain(c):
        return [default_config(c.family, latent_dim=c.latent_dim, dataset=c.dataset, beta=c.beta)]
    return _autoencoder_page(c)  # the plain AE it compares against


def _anomaly_page(c: ModelConfig) -> list[ModelConfig]:
    if c.family in ANOMALY_FAMILIES and c.is_one_class and not c.is_denoising:
        return [anomaly_config(c.family, c.latent_dim, c.normal_classes, c.dataset)]
    return []


def _denoise_page(c: ModelConfig) -> list[ModelConfig]:
    if c.family in DENOISERS and c.is_denoising and not c.is_one_class:
        return [denoiser_config(c.family, c.noise, c.noise_level, c.dataset, longer, c.latent_dim)
                for longer in (False, True)]
    return []


def _clustering_page(c: ModelConfig) -> list[ModelConfig]:
    build = {"ae-mlp": cluster_ae_config, "vae-mlp": cluster_vae_config}.get(c.family)
    return [build(c.latent_dim, c.dataset)] if build and _plain(c) and c.beta == 1.0 else []


IDENTITY = ("latent_dim", "dataset", "noise", "noise_level", "normal_classes", "beta")  # a model, budget aside

# page -> the models it trains that have the identity of ``c`` (family, latent size, data set,
# noise, normal classes, beta): each with the page's own budget.
PAGE_MODELS: dict[str, Callable[[ModelConfig], list[ModelConfig]]] = {
    "autoencoder": _autoencoder_page,
    "vae": _vae_page,
    "anomaly": _anomaly_page,
    "denoise": _denoise_page,
    "clustering": _clustering_page,
}


def page_latent(family: str, page: str | None = None, denoising: bool = False, one_class: bool = False) -> int:
    """The code size a page starts ``family`` at, the page chosen as :func:`model_like` does (the
    command line's ``--latent-dim`` when not given): clustering :data:`CLUSTER_LATENT`, anomaly
    :data:`ANOMALY_LATENT`, denoise :data:`DENOISERS`, else :data:`LATENT`."""
    page = page or ("anomaly" if one_class else "denoise" if denoising else None)
    if page == "clustering":
        return CLUSTER_LATENT
    if page == "anomaly":
        return ANOMALY_LATENT
    if page == "denoise":
        return DENOISERS.get(family, LATENT)
    return LATENT


def model_like(like: ModelConfig, page: str | None = None) -> ModelConfig:
    """The model with ``like``'s family, latent size, data set, noise, normal classes and beta, as
    ``page`` trains it (its budget; ``like``'s own budget and seed are ignored). Without a page: as
    the page that shows models of this kind does (one-class: anomaly; denoising: denoise; VAE:
    vae; plain AE: autoencoder; the clustering models must be asked for by name), else with the
    family's budget. ConfigError when ``page`` shows no such model."""
    for p in [page] if page else ["anomaly", "denoise", "autoencoder", "vae"]:
        found = PAGE_MODELS[p](like)
        if found:
            return found[0]
    if page:
        raise ConfigError(f"the {page} page shows no model like {like.describe()}")
    return default_config(like.family, **{f: getattr(like, f) for f in IDENTITY})


def pages_using(config: ModelConfig) -> list[str]:
    """The pages that show exactly ``config``'s model (any seed: a retrained one still counts)."""
    return [page for page, models in PAGE_MODELS.items()
            if any(m.view_key == config.view_key for m in models(config))]

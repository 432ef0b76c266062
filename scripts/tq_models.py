"""The reference models of tensorquant's import, quantization and speed work.

Shared by scripts/make-models.py (ONNX fixtures), scripts/train-fashion.py
(the trained Fashion-MNIST CNN) and scripts/bench-baselines.py (ONNX Runtime
and PyTorch timings). Runs under Debian's /usr/bin/python3 with python3-torch
1.13 and python3-torchvision 0.14. Nothing is downloaded: every torchvision
model is built with weights=None and seeded random weights.
"""

import torch
import torchvision
from torch import nn


class ResidualBlock(nn.Module):
    """ResNet's basic block without downsampling: relu(bn(conv(relu(bn(conv(x))))) + x)."""

    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


class FashionCNN(nn.Module):
    """The Fashion-MNIST CNN of issue 12: conv-relu-maxpool x2 (16 and 32
    channels), a residual block, global average pooling, a linear layer.
    Input (N, 1, 28, 28), output (N, 10) logits."""

    def __init__(self, c1=16, c2=32, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            ResidualBlock(c2),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c2, classes)

    def forward(self, x):
        return self.fc(torch.flatten(self.pool(self.features(x)), 1))


def encoder(norm_first, layers=2, d_model=256, nhead=4, ff=1024):
    """torch.nn.TransformerEncoder: 2 layers, d_model 256, 4 heads, feed-forward
    1024, GELU, batch_first; norm_first selects pre-norm (True) or post-norm."""
    layer = nn.TransformerEncoderLayer(d_model, nhead, ff, dropout=0.1, activation="gelu",
                                       batch_first=True, norm_first=norm_first)
    return nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)


def calibrate_batchnorm(model, shape, gen, batches=4, batch=8):
    """Gives every BatchNorm layer seeded non-trivial parameters: affine
    weight in [0.5, 1.5] and bias in [-0.2, 0.2], then running mean and
    variance measured on standard-normal inputs with those in place. Fresh
    layers (mean 0, var 1, weight 1, bias 0) would make folding, and an
    importer's BatchNormalization, look right when wrong; statistics that do
    not match the activations let them grow through a deep network until
    ReLU6 and sigmoids saturate and the output no longer depends on the
    input."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return
    with torch.no_grad():
        for m in bns:
            n = m.num_features
            m.weight.copy_(torch.empty(n).uniform_(0.5, 1.5, generator=gen))
            m.bias.copy_(torch.empty(n).uniform_(-0.2, 0.2, generator=gen))
            m.reset_running_stats()
            m.momentum = None  # cumulative average over the calibration batches
        model.train()
        for _ in range(batches):
            model(torch.randn((batch,) + tuple(shape), generator=gen))
    model.eval()


# name -> (builder, input shape without the batch axis, description, export
# with training=PRESERVE so that BatchNormalization nodes stay in the graph).
SPECS = {
    "resnet18": (lambda: torchvision.models.resnet18(weights=None), (3, 224, 224),
                 "torchvision resnet18, 224x224", False),
    "resnet18_bn": (lambda: torchvision.models.resnet18(weights=None), (3, 224, 224),
                    "torchvision resnet18 with BatchNormalization nodes kept (training=PRESERVE export of the eval model)", True),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(weights=None), (3, 224, 224),
                     "torchvision mobilenet_v2, 224x224", False),
    "mobilenet_v3_small": (lambda: torchvision.models.mobilenet_v3_small(weights=None), (3, 224, 224),
                           "torchvision mobilenet_v3_small, 224x224", False),
    "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(weights=None), (3, 224, 224),
                        "torchvision efficientnet_b0, 224x224", False),
    "encoder": (lambda: encoder(False), (128, 256),
                "nn.TransformerEncoder, 2 post-norm layers, d_model 256, 4 heads, ff 1024, GELU, batch_first, sequence 128", False),
    "encoder_prenorm": (lambda: encoder(True), (128, 256),
                        "nn.TransformerEncoder, 2 pre-norm (norm_first) layers, d_model 256, 4 heads, ff 1024, GELU, batch_first, sequence 128", False),
    "fashion_cnn": (lambda: FashionCNN(), (1, 28, 28),
                    "the Fashion-MNIST CNN (conv-relu-maxpool x2, residual block, avgpool, linear), random weights", False),
    "fashion_cnn_bn": (lambda: FashionCNN(), (1, 28, 28),
                       "the Fashion-MNIST CNN with BatchNormalization nodes kept (training=PRESERVE export)", True),
}


def build(name, seed):
    """Returns the model `name` of SPECS in eval mode with weights drawn from
    torch.manual_seed(seed), and its per-sample input shape."""
    make, shape, _, _ = SPECS[name]
    torch.manual_seed(seed)
    model = make()
    calibrate_batchnorm(model, shape, torch.Generator().manual_seed(seed + 1))
    return model.eval(), shape


def export(model, path, batch_input, opset, keep_batchnorm=False):
    """torch.onnx.export as users call it (eval mode, do_constant_folding
    default True, so BatchNorm is folded into Conv and Dropout vanishes),
    input "input" and output "output" with a dynamic batch axis.
    keep_batchnorm exports with training=PRESERVE, which keeps the eval
    model's BatchNormalization nodes."""
    kwargs = {}
    if keep_batchnorm:
        kwargs["training"] = torch.onnx.TrainingMode.PRESERVE
    torch.onnx.export(model, (batch_input,), path, opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}}, **kwargs)

"""EfficientNet-Lite written in torch.nn, independently of the package's JAX code: the PyTorch
oracle of the network tests (not part of the package). ``torch`` is passed in, so that importing
this module does not import it."""
from limetheory.nets import efficientnet as eff

#: (repeats, kernel, stride, expand, in, out) per stage, written out from the published
#: EfficientNet-Lite configurations (not computed by the code under test).
REFERENCE_STAGES = {
    "lite0": [(1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
              (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)],
    "lite1": [(1, 3, 1, 1, 32, 16), (3, 3, 2, 6, 16, 24), (3, 5, 2, 6, 24, 40), (4, 3, 2, 6, 40, 80),
              (4, 5, 1, 6, 80, 112), (5, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320)],
    "lite2": [(1, 3, 1, 1, 32, 16), (3, 3, 2, 6, 16, 24), (3, 5, 2, 6, 24, 48), (4, 3, 2, 6, 48, 88),
              (4, 5, 1, 6, 88, 120), (5, 5, 2, 6, 120, 208), (1, 3, 1, 6, 208, 352)],
}


def torch_efficientnet_lite(torch, variant="lite0"):
    """EfficientNet-Lite in torch.nn, written independently of the JAX code: TF "SAME"
    padding done by F.pad from the input size, BatchNorm2d(eps=1e-3) in eval mode, the stage
    table of REFERENCE_STAGES, weights by torch.load and a strict load_state_dict."""
    nn, F = torch.nn, torch.nn.functional

    class SameConv(nn.Conv2d):
        def forward(self, x):
            pads = []
            for n, k, s in zip(x.shape[-2:], self.kernel_size, self.stride):
                total = max((-(-n // s) - 1) * s + k - n, 0)
                pads.append((total // 2, total - total // 2))
            (top, bottom), (left, right) = pads
            return super().forward(F.pad(x, (left, right, top, bottom)))

    def bn(c):
        return nn.BatchNorm2d(c, eps=1e-3)

    class MBConv(nn.Module):
        def __init__(self, cin, cout, k, s, e):
            super().__init__()
            mid = cin * e
            self.expand = e != 1
            if self.expand:
                self._expand_conv = SameConv(cin, mid, 1, bias=False)
                self._bn0 = bn(mid)
            self._depthwise_conv = SameConv(mid, mid, k, stride=s, groups=mid, bias=False)
            self._bn1 = bn(mid)
            self._project_conv = SameConv(mid, cout, 1, bias=False)
            self._bn2 = bn(cout)
            self.skip = s == 1 and cin == cout

        def forward(self, x):
            y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
            y = F.relu6(self._bn1(self._depthwise_conv(y)))
            y = self._bn2(self._project_conv(y))
            return y + x if self.skip else y

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
            self._bn0 = bn(32)
            blocks = []
            for repeats, k, s, e, cin, cout in REFERENCE_STAGES[variant]:
                for r in range(repeats):
                    blocks.append(MBConv(cin if r == 0 else cout, cout, k, s if r == 0 else 1, e))
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = SameConv(REFERENCE_STAGES[variant][-1][-1], 1280, 1, bias=False)
            self._bn1 = bn(1280)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x):
            x = F.relu6(self._bn0(self._conv_stem(x)))
            for block in self._blocks:
                x = block(x)
            x = F.relu6(self._bn1(self._conv_head(x)))
            return self._fc(x.mean(dim=(2, 3)))

    net = Net()
    net.load_state_dict(torch.load(eff.weights_path(variant), map_location="cpu", weights_only=True),
                        strict=True)
    return net.eval()

"""Feature Refinement (FR, "FeatRef") for micro-expression recognition.

Paper: L. Zhou, Q. Mao, X. Huang, F. Zhang, Z. Zhang, "Feature refinement: An expression-specific
feature learning and fusion method for micro-expression recognition", Pattern Recognition 122
(2022) 108275, doi:10.1016/j.patcog.2021.108275, arXiv:2101.04838.

Provenance. Only the paper's abstract has been checked here; nothing below is "verified from the
paper" beyond it.

* [abstract]: expression-shared features from an inception module on optical flow; "to obtain
  salient and discriminative features for specific expressions", "expression-shared features are
  fed into an expression proposal module with attention factors and proposal loss"; "labels of
  categories are predicted by a fusion of the expression-specific features".
* [DI-code]: the inception streams, one per flow component (6 then 16 filters per branch, each
  block followed by 2x2 max-pool), 28x28 input, from the authors' Dual-Inception network.
* [recollection] (recalled from the full text, not re-checked): one proposal branch per class, a
  one-vs-rest binary cross-entropy as the proposal loss, total loss CE + lambda * proposal loss.
* [inferred]: everything else. How the abstract's words become layers is a *reading*; the
  default reading and the ablation readings are keyword arguments of :class:`FeatRef`, argued in
  docs/method.md ("Which reading of FR is the default, and why").

Default reading (``featref``), branch k of K, on the shared map S (B, 3*64, 7, 7):
R_k = ReLU(Conv1x1(S)) (B, 32, 7, 7), own per branch [abstract "expression-specific"];
A_k = sigmoid(Conv1x1(R_k)) (B, 1, 7, 7), spatial attention, "salient" [inferred];
f_k = ReLU(Linear(flatten(R_k * A_k))) (B, 64); p_k = Linear(f_k), the proposal logit, trained
by the one-vs-rest BCE [recollection]; alpha_k = sigmoid(p_k), the attention factor, so the
proposal loss supervises it [inferred]; logits = Linear(dropout(concat_k(alpha_k * f_k)))
[inferred]. The legacy reading (``featref_legacy``): FC branches on the flattened shared map, an
unsupervised sigmoid gate, the proposal head on the un-gated feature; with its gate off it is the
shared-only head (tests/models/test_featref_readings.py). lambda is a training setting
(``[train] proposal_weight``, read by :func:`featref.training.losses.model_loss`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from featref.errors import ConfigError
from featref.models._registry import ModelCard, register_model
from featref.models.base import MerModel, global_pool
from featref.models.layers import InceptionStream, InceptionStreams

__all__ = [
    "ATTENTIONS",
    "FUSIONS",
    "INITS",
    "PROPOSAL_INPUTS",
    "ExpressionBranch",
    "FeatRef",
    "FeatRefOutput",
    "featref",
    "featref_legacy",
]

#: Fusion of the expression-specific features before the classifier. [inferred]
FUSIONS: tuple[str, ...] = ("concat", "sum", "attention_sum")
#: What the attention factor alpha_k is: sigmoid of the proposal logit (supervised by the
#: proposal loss), an unsupervised sigmoid gate (legacy), or none (alpha_k = 1). [inferred]
ATTENTIONS: tuple[str, ...] = ("proposal", "gate", "none")
#: Initialisation of the layers followed by a ReLU. [inferred]
INITS: tuple[str, ...] = ("kaiming", "torch")
#: Which feature the proposal head reads: after every attention before it, or before any.
PROPOSAL_INPUTS: tuple[str, ...] = ("attended", "unattended")


class FeatRefOutput(NamedTuple):
    """What :meth:`FeatRef.forward` returns (a NamedTuple, so ``torch.func.vmap`` can batch it)."""

    logits: torch.Tensor  # (B, K) class scores
    proposal_logits: torch.Tensor  # (B, K) one-vs-rest scores of the proposal heads; (B, 0) if off
    attention: torch.Tensor  # (B, K) attention factor of each branch; ones when attention is off


class ExpressionBranch(nn.Module):
    """One expression proposal branch: the shared features -> one expression-specific feature.

    Args:
        in_ch: Channels of the shared map (or the length of the shared vector, with ``vector``).
        spatial: Positions of the shared map (7 * 7); ignored with ``vector``.
        channels: Channels of the branch's own 1x1 convolution refinement R_k of the shared map;
            0: none, the FC layer reads the flattened shared map itself (the legacy reading).
        width: Size of the expression-specific feature f_k.
        spatial_attention: A sigmoid 1x1-convolution map A_k over the branch's map, multiplied
            in before the FC layer.
        gate: Add the legacy unsupervised gate head ``gate`` (Linear(width -> 1)).
        vector: The input is a shared *vector* (B, in_ch) (the FC-1024 reading), not a map.
    """

    def __init__(
        self,
        in_ch: int,
        spatial: int,
        *,
        channels: int,
        width: int,
        spatial_attention: bool,
        gate: bool,
        vector: bool = False,
    ) -> None:
        super().__init__()
        if channels:
            self.reduce = nn.Sequential(nn.Conv2d(in_ch, channels, 1), nn.ReLU())
        else:
            self.reduce = nn.Identity()
        map_ch = channels or in_ch
        self.saliency = nn.Conv2d(map_ch, 1, 1) if spatial_attention else None
        flat = in_ch if vector else map_ch * spatial
        self.fc = nn.Sequential(nn.Linear(flat, width), nn.ReLU())
        self.gate = nn.Linear(width, 1) if gate else None  # legacy attention (before the sigmoid)
        self.proposal = nn.Linear(width, 1)  # "is this sample of my expression?" logit p_k

    def forward(
        self, shared: torch.Tensor, *, unattended: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(f_k (B, width), the same feature without spatial attention or None)``.

        The second item is computed only when ``unattended`` is asked for and the branch has a
        spatial attention; otherwise it is ``None`` (it would equal ``f_k``).
        """
        r = self.reduce(shared)  # (B, C, 7, 7) -> R_k (B, channels, 7, 7); a vector stays
        if self.saliency is None:
            return self.fc(r.flatten(1)), None  # (B, width)
        a = torch.sigmoid(self.saliency(r))  # A_k (B, 1, 7, 7)
        f = self.fc((r * a).flatten(1))  # (B, width)
        return f, (self.fc(r.flatten(1)) if unattended else None)

    def spatial_attention(self, shared: torch.Tensor) -> torch.Tensor | None:
        """The spatial attention map A_k (B, 1, 7, 7), or ``None`` without one."""
        if self.saliency is None:
            return None
        return torch.sigmoid(self.saliency(self.reduce(shared)))


class FeatRef(MerModel):
    """The FR network: shared inception features, expression proposal module, fusion classifier.

    The defaults are the default reading (module docstring, docs/method.md); the other values are
    the ablation readings, each with a preset ``megc2019_fr_<name>``.

    Args:
        num_classes: Number of expression classes (one proposal branch each). [recollection]
        in_channels: Number of flow components; each gets its own inception stream. [DI-code]
        input_hw: Input height and width. [DI-code]
        stream_filters: Filters per branch of each inception block. [DI-code]
        batch_norm: BatchNorm after each convolution of the inception streams. [inferred]
        branch_channels: Channels of each branch's own 1x1 convolution refinement of the shared
            map (32); 0: none, each branch's FC reads the whole flattened shared map (legacy).
            [inferred]
        branch_width: Size of each expression-specific feature f_k (64). [inferred]
        spatial_attention: Per-branch spatial attention map over the branch's map ("salient").
            [inferred]
        attention: The attention factor alpha_k: ``"proposal"`` = sigmoid(p_k), supervised by
            the proposal loss; ``"gate"`` = an unsupervised sigmoid gate (legacy); ``"none"`` =
            1. [inferred]
        proposal_input: ``"attended"``: the proposal head reads the feature after every
            attention before it (spatial attention, and with ``attention="gate"`` the gate);
            ``"unattended"``: the feature computed without them (the same feature when the
            branch has neither). [inferred]
        fusion: ``"concat"`` (concatenate alpha_k * f_k), ``"sum"`` (add them) or
            ``"attention_sum"`` (average of f_k weighted by alpha_k / sum_j alpha_j). [inferred]
        add_proposal_logits: Add the proposal logits p_k (log-odds) to the class logits, so
            the proposal outputs reach the prediction directly. [inferred]
        shared_fc: Width of a shared FC layer (the predecessor Dual-Inception's FC-1024) between
            the shared map and the proposal module; 0: none. Needs ``branch_channels=0`` and
            ``spatial_attention=False`` (the branches then read a vector). [DI-code] layer
        proposal: Use the expression proposal module; off gives the "shared features only"
            ablation, a plain head of the same widths (a 1x1 convolution to K * branch_channels
            channels when ``branch_channels`` > 0, then FC to K * branch_width); ``attention``,
            ``spatial_attention``, ``proposal_input`` and ``fusion`` then have nothing to act on.
        dropout: Dropout before the classifier. [inferred]
        branch_dropout: Dropout on each expression-specific feature f_k. [inferred]
        init: ``"kaiming"``: He et al.'s fan-in normal initialisation (zero bias) of every layer
            followed by a ReLU; ``"torch"``: PyTorch's default everywhere (the legacy reading's).
            With PyTorch's default the small shared features made the default reading learn
            slowly (training accuracy 0.31 vs 0.90 after 12 epochs on the synthetic set). [inferred]

    Raises:
        ConfigError: (a ``ValueError``) for an option outside its choices or range, or
            ``shared_fc`` combined with branch maps.
    """

    def __init__(
        self,
        num_classes: int = 3,
        in_channels: int = 3,
        *,
        input_hw: tuple[int, int] = (28, 28),
        stream_filters: tuple[int, ...] = (6, 16),
        batch_norm: bool = False,
        branch_channels: int = 32,
        branch_width: int = 64,
        spatial_attention: bool = True,
        attention: str = "proposal",
        proposal_input: str = "attended",
        fusion: str = "concat",
        add_proposal_logits: bool = False,
        shared_fc: int = 0,
        proposal: bool = True,
        dropout: float = 0.5,
        branch_dropout: float = 0.0,
        init: str = "kaiming",
    ) -> None:
        super().__init__()
        _check_options(
            attention=attention,
            proposal_input=proposal_input,
            fusion=fusion,
            branch_channels=branch_channels,
            branch_width=branch_width,
            spatial_attention=spatial_attention,
            shared_fc=shared_fc,
            proposal=proposal,
            add_proposal_logits=add_proposal_logits,
            dropout=dropout,
            branch_dropout=branch_dropout,
            init=init,
        )
        self.num_classes = num_classes
        self.fusion = fusion
        self.attention = attention
        self.proposal_input = proposal_input
        self.add_proposal_logits = add_proposal_logits
        self.proposal = proposal
        self.streams = InceptionStreams(
            InceptionStream(1, tuple(stream_filters), batch_norm=batch_norm)
            for _ in range(in_channels)
        )
        shared_ch = in_channels * self.streams[0].out_channels
        down = 2 ** len(stream_filters)
        spatial = (input_hw[0] // down) * (input_hw[1] // down)
        if shared_fc:
            # the predecessor's shared vector: flatten -> FC -> ReLU, (B, shared_ch * 49) -> (B, D)
            self.shared_fc = nn.Sequential(
                nn.Flatten(1), nn.Linear(shared_ch * spatial, shared_fc), nn.ReLU()
            )
        else:
            self.shared_fc = nn.Identity()
        k, w = num_classes, branch_width
        if proposal:
            self.branches = nn.ModuleList(
                ExpressionBranch(
                    shared_fc or shared_ch,
                    spatial,
                    channels=branch_channels,
                    width=w,
                    spatial_attention=spatial_attention,
                    gate=attention == "gate",
                    vector=bool(shared_fc),
                )
                for _ in range(k)
            )
            fused = w * (k if fusion == "concat" else 1)
        else:
            # the same widths as the K branches together, without per-class structure
            layers: list[nn.Module] = []
            if branch_channels:
                layers = [nn.Conv2d(shared_ch, branch_channels * k, 1), nn.ReLU()]
            flat = shared_fc or (branch_channels * k or shared_ch) * spatial
            self.shared_head = nn.Sequential(
                *layers, nn.Flatten(1), nn.Linear(flat, w * k), nn.ReLU()
            )
            fused = w * k
        self.branch_dropout = nn.Dropout(branch_dropout)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(fused, num_classes)
        if init == "kaiming":
            self._init_relu_layers()

    def _init_relu_layers(self) -> None:
        # He et al. (2015) fan-in normal init, zero bias, for every layer followed by a ReLU (the
        # streams, the branch refinement and FC, shared_fc, the shared-only head); the layers
        # before a sigmoid or the softmax keep PyTorch's default. [inferred]
        parts = [self.streams, self.shared_fc]
        if self.proposal:
            parts += [m for b in self.branches for m in (b.reduce, b.fc)]
        else:
            parts.append(self.shared_head)
        for part in parts:
            for m in part.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Expression-shared features: (B, S, 28, 28) -> (B, S * 64, 7, 7)."""
        return self.streams(x)

    def refine(self, shared: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Expression-specific features, attention factors and proposal logits.

        Args:
            shared: The shared map (B, S * 64, 7, 7) from :meth:`forward_features`.

        Returns:
            ``(specific (B, K, W), attention (B, K), proposal_logits (B, K))``; ``specific`` is
            f_k before the attention factor.
        """
        h = self.shared_fc(shared)  # the map, or with shared_fc the vector (B, D)
        unattended = self.proposal_input == "unattended"
        feats, alphas, props = [], [], []
        for b in self.branches:
            f, plain = b(h, unattended=unattended)  # (B, W), (B, W) or None
            f = self.branch_dropout(f)
            plain = f if plain is None else self.branch_dropout(plain)
            if self.attention == "gate":
                g = torch.sigmoid(b.gate(f))  # (B, 1) legacy gate, unsupervised
                p = b.proposal(plain if unattended else g * f)  # (B, 1)
                alpha = g
            else:
                p = b.proposal(plain if unattended else f)  # (B, 1)
                alpha = torch.sigmoid(p) if self.attention == "proposal" else torch.ones_like(p)
            feats.append(f)
            alphas.append(alpha)
            props.append(p)
        return torch.stack(feats, 1), torch.cat(alphas, 1), torch.cat(props, 1)

    def forward_head(self, shared: torch.Tensor) -> FeatRefOutput:
        """Proposal module + fusion + classifier on the shared map (B, S * 64, 7, 7)."""
        if not self.proposal:
            h = self.shared_fc(shared)
            logits = self.classifier(self.dropout(self.shared_head(h)))  # (B, K)
            b = shared.shape[0]
            return FeatRefOutput(
                logits, shared.new_zeros(b, 0), shared.new_ones(b, self.num_classes)
            )
        feats, attention, props = self.refine(shared)  # (B, K, W), (B, K), (B, K)
        weighted = feats * attention.unsqueeze(-1)  # alpha_k * f_k, (B, K, W)
        if self.fusion == "concat":
            fused = weighted.flatten(1)  # (B, K * W)
        elif self.fusion == "sum":
            fused = weighted.sum(1)  # (B, W)
        else:
            norm = attention / attention.sum(1, keepdim=True).clamp_min(1e-6)
            fused = (feats * norm.unsqueeze(-1)).sum(1)  # (B, W)
        logits = self.classifier(self.dropout(fused))  # (B, K)
        if self.add_proposal_logits:
            logits = logits + props
        return FeatRefOutput(logits, props, attention)

    def forward(self, x: torch.Tensor) -> FeatRefOutput:
        # (B, S, H, W) -> shared (B, S*64, H/4, W/4) -> logits (B, K)
        return self.forward_head(self.forward_features(x))

    def extra_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Attention factors (B, K), pooled shared features (B, D), refined features (B, K * W).

        ``refined`` is the concatenated f_k (before the attention factor); (B, 0) without the
        proposal module, whose ``attention`` is then all ones.
        """
        shared = self.forward_features(x)
        if not self.proposal:
            attention = self.forward_head(shared).attention
            refined = shared.new_zeros(shared.shape[0], 0)
        else:
            feats, attention, _ = self.refine(shared)
            refined = feats.flatten(1)
        return {"attention": attention, "shared": global_pool(shared), "refined": refined}


def _check_options(
    *,
    attention: object,
    proposal_input: object,
    fusion: object,
    branch_channels: int,
    branch_width: int,
    spatial_attention: bool,
    shared_fc: int,
    proposal: bool,
    add_proposal_logits: bool,
    dropout: float,
    branch_dropout: float,
    init: object,
) -> None:
    where = "FeatRef (model keyword arguments, [model.kwargs] or --model-arg)"
    if isinstance(attention, bool):
        raise ConfigError(
            f"`attention` of {where} names the attention factor now, one of {list(ATTENTIONS)}. "
            f"Got {attention!r}: write attention='none' for the old attention=false, "
            "'gate' for the legacy unsupervised gate."
        )
    choices = {
        "attention": ATTENTIONS,
        "proposal_input": PROPOSAL_INPUTS,
        "fusion": FUSIONS,
        "init": INITS,
    }
    for key, value in (
        ("attention", attention),
        ("proposal_input", proposal_input),
        ("fusion", fusion),
        ("init", init),
    ):
        if value not in choices[key]:
            raise ConfigError(
                f"`{key}` of {where} must be one of {list(choices[key])}. Got {value!r}."
            )
    ranges = {
        "branch_channels": (branch_channels, branch_channels >= 0),
        "branch_width": (branch_width, branch_width >= 1),
        "shared_fc": (shared_fc, shared_fc >= 0),
        "dropout": (dropout, 0 <= dropout < 1),
        "branch_dropout": (branch_dropout, 0 <= branch_dropout < 1),
    }
    for key, (value, ok) in ranges.items():
        if not ok:
            raise ConfigError(
                f"`{key}` of {where} is out of range. Got {value!r}; branch_channels and "
                "shared_fc need >= 0, branch_width >= 1, dropout and branch_dropout in [0, 1)."
            )
    if shared_fc and (branch_channels or spatial_attention):
        raise ConfigError(
            f"`shared_fc={shared_fc}` of {where} feeds the branches a vector, which has no map to "
            f"refine or attend. Got branch_channels={branch_channels}, "
            f"spatial_attention={spatial_attention}; set branch_channels=0 and "
            "spatial_attention=false with shared_fc."
        )
    if add_proposal_logits and not proposal:
        raise ConfigError(
            f"`add_proposal_logits=true` of {where} needs the proposal module; got proposal=false. "
            "Drop one of the two."
        )


_PAPER = "Zhou et al., Pattern Recognition 2022, doi:10.1016/j.patcog.2021.108275, arXiv:2101.04838"

#: The legacy reading's keyword arguments: ``featref`` before issue 15 (docs/method.md).
LEGACY_KWARGS: dict[str, object] = {
    "branch_channels": 0,
    "branch_width": 128,
    "spatial_attention": False,
    "attention": "gate",
    "proposal_input": "unattended",
    "init": "torch",
}


@register_model(
    ModelCard(
        name="featref",
        input_size=(3, 28, 28),
        channels=("u", "v", "strain"),
        num_classes=3,
        paper=_PAPER,
        param_count=355_509,
        notes=(
            "FR, default reading: per-branch 1x1-conv refinement (32) with spatial attention, "
            "FC 64, alpha_k = sigmoid(proposal logit), concat fusion; see docs/method.md. "
            "in_channels=2 for u, v only."
        ),
    )
)
def featref(*, num_classes: int = 3, in_channels: int = 3, **kwargs) -> FeatRef:
    """FR, default reading; keyword arguments as :class:`FeatRef`."""
    return FeatRef(num_classes=num_classes, in_channels=in_channels, **kwargs)


@register_model(
    ModelCard(
        name="featref_legacy",
        input_size=(3, 28, 28),
        channels=("u", "v", "strain"),
        num_classes=3,
        paper=_PAPER,
        param_count=3_649_845,
        notes=(
            "FR, legacy reading (featref's default before issue 15): FC-128 branches on the "
            "flattened shared map, unsupervised sigmoid gate, proposal head on the un-gated "
            "feature. Kept as an ablation: without its gate it is the shared-only head. Other "
            "keyword arguments as FeatRef."
        ),
    )
)
def featref_legacy(*, num_classes: int = 3, in_channels: int = 3, **kwargs) -> FeatRef:
    """FR, legacy reading (:data:`LEGACY_KWARGS`); other keyword arguments as :class:`FeatRef`."""
    return FeatRef(num_classes=num_classes, in_channels=in_channels, **{**LEGACY_KWARGS, **kwargs})

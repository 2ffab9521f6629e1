"""``train.sharding: fsdp``: parameters, gradients and optimizer state split over the processes
(PyTorch's FSDP2, ``fully_shard``), so a model too big for one device's copy trains on several.

Each decoder layer of the language model and of the vision encoder is a shard unit, then the
whole model. Checkpoints stay what DDP writes — full trainable weights and a full optimizer
state, saved by rank 0 — gathered with ``torch.distributed.checkpoint.state_dict`` (every
process takes part), so a run resumes the same whatever the sharding. It runs on CPUs (gloo)
as on GPUs (NCCL).
"""

from __future__ import annotations


def shard(net) -> None:
    from torch.distributed.fsdp import fully_shard

    inner = net.get_base_model() if hasattr(net, "get_base_model") else net
    for layer in [*inner.model.text_model.layers, *inner.model.vision_model.encoder.layers]:
        fully_shard(layer)
    fully_shard(net)


def options(cpu_offload: bool = True):
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=cpu_offload)


def full_state(net, opt) -> tuple[dict, dict]:
    """(trainable weights, optimizer state) in full on rank 0 (empty elsewhere); collective."""
    from torch.distributed.checkpoint.state_dict import get_state_dict

    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    weights, optimizer = get_state_dict(net, opt, options=options())
    return {n: w for n, w in weights.items() if n in trainable}, optimizer


def full_weights(net) -> dict:
    """Every weight of the model in full on rank 0 (empty elsewhere); collective."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    return get_model_state_dict(net, options=options())


def load_optimizer(net, opt, state: dict) -> None:
    """A full optimizer state (as :func:`full_state` saved it) into the sharded optimizer."""
    from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

    set_optimizer_state_dict(net, opt, state, options=options(cpu_offload=False))


def norm_value(norm) -> float:
    """``clip_grad_norm_``'s result as a number (a DTensor over sharded parameters)."""
    return (norm.full_tensor() if hasattr(norm, "full_tensor") else norm).item()

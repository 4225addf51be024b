"""The memory planner (``genomefactory-cli plan``): which GPU, how many, which strategy, for a train config.

``config.py`` (``PlanConfig``, torch-free), ``trace.py`` (the model on the meta device: counts and the activation
memory autograd saves), ``memory.py`` (per-GPU bytes of weights, gradients, optimizer states and activations for
ddp / fsdp / deepspeed ZeRO-2/3 / qlora on N GPUs; plain arithmetic), ``run.py`` (``run_plan``). The model of
memory is written out in ``docs/memory_planner.md``.
"""

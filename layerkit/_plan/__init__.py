"""A fused, allocation-free training step (and inference) for networks of layerkit's
own layers.

``Sequential.loss_and_grads`` is the general path: it validates its inputs, lets each
layer allocate or look up its outputs, and works for any layer. In a training loop
most of that is the same every batch, and for small layers it costs more than the
matrix products themselves. A ``TrainingPlan`` does it once: for each batch size it
preallocates every activation and delta, binds each built-in layer's forward and
backward arithmetic to them as closures (activations in place on the Dense output
they follow), multiplies each Dense layer's input, with a column of ones appended, by
its ``[W; b]`` block (so the bias is added, and its gradient summed, inside the
product), and computes the canonical output pair's loss and fused delta from the
logits with as few numpy calls as it can. The arithmetic is the layers' own: the plan
is tested to give the general path's gradients.

A user's hidden layer without parameters (an activation of one's own) runs inside the
plan through its own ``forward`` and ``backward`` (``UserStage``: checked against the
layer contract at every call, its results copied into the plan's buffers), so the
built-in layers around it keep their fused arithmetic. The general path trains
everything else: sparse input, an output layer and loss that are not a canonical pair,
Softmax or Exp as hidden layers, and a user's layer with parameters (the plan would
move its arrays into its flat buffer, which a layer exposing them through a property,
or sharing them with an inner object, would not see).
"""

from ._inference import predict_planned
from ._training import TrainingPlan, plan_supports

__all__ = ["TrainingPlan", "plan_supports", "predict_planned"]

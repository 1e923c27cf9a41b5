"""Model serving beside the pure core: loading the models, their engines and exports, and batching.

Detoxify and the sentence encoder are loaded here (from offline bundles, never downloaded), run on
an engine (torch, or ONNX Runtime checked against fp32 torch), and fed micro-batches by the
:class:`~moderation.serving.batching.ScoringService`. The decision code (``moderation.engine.assess``)
takes the scores as an argument and imports nothing from this package.
"""

"""genomefactory: tune, deploy and interpret genomic foundation models.

Modules (one subpackage each): ``collect`` (Genome Collector), ``models`` (Model Loader), ``train`` (Model
Trainer), ``infer`` (Inference Engine), ``benchmark`` (Benchmarker), ``interpret`` (Biological Interpreter),
plus ``webui``. The CLI (``genomefactory-cli``) is a table over the same functions.
"""

__version__ = "0.1.0"

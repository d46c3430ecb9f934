"""The library's version, in a leaf module: the card's provenance records it, and the modules that write the card
must not import the package root (which names the pipeline, and so would import them back)."""

__version__ = "0.1.0"

"""linkbert: fine-tune and pretrain LinkBERT / BioLinkBERT on today's PyTorch and transformers."""

__version__ = "0.1.0"

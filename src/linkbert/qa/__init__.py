"""Extractive QA (MRQA): sliding-window features, span decoding and the SQuAD metric's inputs."""

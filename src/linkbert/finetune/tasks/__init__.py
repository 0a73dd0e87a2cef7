"""Task modules: what differs between QA, sequence classification, NER and multiple choice."""

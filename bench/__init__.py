"""fastnet's benchmark suite: loops vs vectorised vs GPU, with peers. Run ``python -m bench``."""

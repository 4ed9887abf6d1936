"""newsletter: a press-review newsletter generator.

Data moves one way through the store: sources are collected into articles, articles are
enriched (language, tags, story) and summarized; later stages build, render and send editions.
"""

__version__ = "0.1.0"

from metricdag.errors import MetricdagError


class SourceError(MetricdagError):
    """A source dataset could not be read; the message names the dataset and where it looked."""

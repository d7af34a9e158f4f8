"""metricdag: daily business metrics on Dagster.

``metricdag.MetricComponent`` (the ``dg`` component type ``metricdag.MetricComponent``) is
imported on first use, so the package's Dagster-free parts (the persister Lambda) stay light."""

_COMPONENTS = ("MetricComponent",)


def __getattr__(name: str):
    if name in _COMPONENTS:
        from metricdag import components

        return getattr(components, name)
    raise AttributeError(f"module 'metricdag' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_COMPONENTS])

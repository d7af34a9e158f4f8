"""``metricdag deploy --env ENV``: validate, publish the catalog, bake its cache, and bring the
persister Lambda, the event queues and the S3 notifications to their desired state.

- :mod:`metricdag.deploy.target`: what an environment deploys (``deploy/targets/<env>.yaml``).
- :mod:`metricdag.deploy.plan`: pure functions, desired vs actual state -> what to change.
- :mod:`metricdag.deploy.aws`: the boto3 calls that read the actual state and apply a plan.
- :mod:`metricdag.deploy.run`: the order of the steps; :mod:`metricdag.deploy.cli` the command.
"""

import sys

from metricdag.packaging import main

sys.exit(main())

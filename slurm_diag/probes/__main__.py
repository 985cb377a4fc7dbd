import sys

from slurm_diag.probes.execute import main

sys.exit(main())

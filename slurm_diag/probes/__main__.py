import sys

from slurm_diag.probes.runner import main

sys.exit(main())

from slurm_diag.cli import main

main()

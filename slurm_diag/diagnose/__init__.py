"""Diagnosis: a job (or a log alone) turned into findings and one attribution, with no LLM.

``logfile`` reads a job's output in bounded memory; ``extract`` finds nodes, GPUs, Xids and ids;
``signs`` says what a log line points to; ``slurm_facts`` turns Slurm's verdicts into evidence;
``attribute`` picks the root cause; ``engine`` wires them.
"""

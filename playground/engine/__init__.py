"""How a run trains (training, steps, recorder) and where (executors, jobs, remote), and studies over it."""

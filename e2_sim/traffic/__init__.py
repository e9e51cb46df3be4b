"""Traffic models: packet queues with delay accounting, Poisson arrivals, rate demand."""

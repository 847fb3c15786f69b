"""The Job executor: plays kubelet and the Job controller against the stand-in."""

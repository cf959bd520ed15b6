"""Git hosts: where a review reads the change from and posts its results to."""

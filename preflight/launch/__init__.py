"""`preflight launch`: check -> fix -> security group -> run instances -> wait -> ports -> verify -> record."""

"""The virtual board's board_config.py on the unix port (`deploy --board sim`, devsim): its name,
by which main.py picks the HAL. The pins and calibration are the model's (boards/sim/model.py)."""
NAME = "sim"

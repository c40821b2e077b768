#!/bin/sh
# ForceCommand of the fan-out device (bench/compare/ssh_fanout_vs_ansible.sh):
# answers at once, as a network device's CLI does, instead of starting Python
# like tests/harness/device_sim.py, so the device's cost does not hide the
# clients'. Records the command (one short line: an atomic O_APPEND write).
printf '%s\n' "$SSH_ORIGINAL_COMMAND" >>"$1"
echo "Generic Network OS 9.4.1 (bench device)"

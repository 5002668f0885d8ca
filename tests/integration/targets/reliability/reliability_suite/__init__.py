# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The reliability suite of llmops.eas_stack, run in the lab by the integration target ``reliability`` (runme.sh).

Modules: ``runs`` (ansible-playbook runs in their own process group, output watched as it comes, signals),
``lab`` (the EAS emulator's and one-api's APIs, the root/123456 probe, port, file-mode and secret scans),
``inputs`` (the wrong inputs and what the refusal must say), ``tracks`` (the three tracks: faults, outage, secrets
and exposure on one stack; kills; wrong inputs), ``__main__`` (runs the tracks side by side, prints the figures).
"""

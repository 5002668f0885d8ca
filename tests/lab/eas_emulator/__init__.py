# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PAI-EAS (OpenAPI 2021-07-01) lab emulator, standard library only.

Modules: ``common`` (helpers, request/response/error model), ``catalog`` (machine types, model size and GPU fit),
``state`` (the Store and its lazy, time-based state machines), ``control`` (ROA control plane), ``machine_spec``
(DescribeMachineSpec and the stock knob), ``storage`` (storage mounts checked as EAS checks them), ``dataplane``
(OpenAI-compatible service endpoints), ``outage`` (API outages), ``persist`` (the state file), ``lab`` (faults,
request log, billing, dispatcher), ``server`` (HTTP and CLI).
"""

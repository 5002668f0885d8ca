# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: eas_service_cron_scaler
short_description: Manage the scheduled (cron) scaler of a PAI-EAS service
version_added: 1.1.0
description:
  - Creates, updates or deletes the scheduled scaler (CronHPA) of an existing PAI-EAS online service
    (C(CreateServiceCronScaler), C(UpdateServiceCronScaler), C(DeleteServiceCronScaler)), read with
    C(DescribeServiceCronScaler). Its jobs set the number of instances at the times of a cron expression, for
    example more instances during office hours and fewer at night.
  - Idempotent. The jobs are compared in order by name, schedule and target size, and the excluded dates as a
    set; a difference sends the whole list (C(UpdateServiceCronScaler)).
  - C(DescribeServiceCronScaler) does not return a job's time zone, so a change of O(scale_jobs[].time_zone) alone
    is not detected; change the job's name too to apply it.
  - In check mode only C(DescribeServiceCronScaler) (and C(DescribeService)) are called.
author:
  - llmops.eas_stack contributors (!UNKNOWN)
options:
  name:
    description:
      - The service name. The service must exist.
    type: str
    required: true
  state:
    description:
      - V(present) creates or updates the scheduled scaler; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  scale_jobs:
    description:
      - The jobs (C(ScaleJobs)). At least one is required with O(state=present).
    type: list
    elements: dict
    suboptions:
      name:
        description:
          - The job name (C(Name)). Names make the comparison and the diff readable; give each job one.
        type: str
      schedule:
        description:
          - When the job runs (C(Schedule)), a cron expression, for example V(0 0 8 * * *) (seconds first, as
            CronHPA reads it) or V(0 8 * * *).
        type: str
        required: true
      target_size:
        description:
          - The number of instances the job sets (C(TargetSize)). With an autoscaler on, keep it within the
            autoscaler's bounds.
        type: int
        required: true
      time_zone:
        description:
          - The time zone of the schedule (C(TimeZone)), for example V(Asia/Shanghai). Not returned by the API
            (see the description).
        type: str
  exclude_dates:
    description:
      - Cron expressions of dates on which no job runs (C(ExcludeDates)), for example V(* * * 1 10 *).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - llmops.eas_stack.eas
  - llmops.eas_stack.attributes
  - llmops.eas_stack.attributes.ACTIONGROUP_EAS
attributes:
  check_mode:
    support: full
    details:
      - Only DescribeServiceCronScaler and DescribeService are called.
  diff_mode:
    support: full
notes:
  - In a dedicated resource group a job's O(scale_jobs[].target_size) above what the group's nodes can hold leaves
    instances C(Pending); the nodes are billed whatever the number of instances.
seealso:
  - module: llmops.eas_stack.eas_service_autoscaler
"""

EXAMPLES = r"""
- name: Two instances in office hours, one at night
  llmops.eas_stack.eas_service_cron_scaler:
    region: cn-hangzhou
    name: deepseek_r1_qwen_1_5b
    scale_jobs:
      - name: office-hours
        schedule: 0 0 8 * * 1-5
        target_size: 2
        time_zone: Asia/Shanghai
      - name: night
        schedule: 0 0 20 * * *
        target_size: 1
        time_zone: Asia/Shanghai
"""

RETURN = r"""
cron_scaler:
  description: The scheduled scaler after the task (before it, in check mode). Empty when there is none.
  returned: always
  type: dict
  contains:
    scale_jobs:
      description: The jobs with C(name), C(schedule), C(target_size), C(state), C(message), C(create_time),
        C(last_probe_time).
      type: list
      elements: dict
    exclude_dates:
      description: The excluded dates.
      type: list
      elements: str
actions:
  description: The API actions performed (or that would be, in check mode).
  returned: always
  type: list
  elements: str
  sample: [CreateServiceCronScaler]
"""

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASRunner
from ansible_collections.llmops.eas_stack.plugins.module_utils.errors import ModuleError


def _int(value):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return None


def job_result(job):
    return dict(
        name=job.get('Name'),
        schedule=job.get('Schedule'),
        target_size=_int(job.get('TargetSize')),
        state=job.get('State'),
        message=job.get('Message'),
        create_time=job.get('CreateTime'),
        last_probe_time=job.get('LastProbeTime'),
    )


def cron_result(body):
    if not body:
        return {}
    return dict(
        scale_jobs=[job_result(j) for j in body.get('ScaleJobs') or []],
        exclude_dates=list(body.get('ExcludeDates') or []),
    )


def exists(body):
    return bool(body) and bool(body.get('ScaleJobs'))


def compared_jobs(jobs, with_names):
    out = []
    for job in jobs:
        item = dict(schedule=' '.join(str(job['schedule']).split()), target_size=_int(job['target_size']))
        if with_names:
            item['name'] = job.get('name')
        out.append(item)
    return out


class CronScalerRunner(EASRunner):
    options = dict(
        name=dict(type='str', required=True),
        state=dict(type='str', default='present', choices=['present', 'absent']),
        scale_jobs=dict(
            type='list',
            elements='dict',
            options=dict(
                name=dict(type='str'),
                schedule=dict(type='str', required=True),
                target_size=dict(type='int', required=True),
                time_zone=dict(type='str'),
            ),
        ),
        exclude_dates=dict(type='list', elements='str', default=[]),
    )
    module_kwargs = dict(required_if=[('state', 'present', ('scale_jobs',))])

    def validate(self):
        jobs = self.params['scale_jobs'] or []
        problems = []
        if not jobs:
            problems.append(
                'scale_jobs needs at least one job, for example {name: day, schedule: "0 0 8 * * *", target_size: 2}'
            )
        names = [j['name'] for j in jobs if j['name']]
        if len(set(names)) != len(names):
            problems.append('scale_jobs: job names must be unique')
        for job in jobs:
            fields = str(job['schedule']).split()
            if len(fields) not in (5, 6):
                problems.append(
                    'scale_jobs: schedule %r of %s must be a cron expression of 5 or 6 fields'
                    % (job['schedule'], job['name'] or 'a job')
                )
            if job['target_size'] < 0:
                problems.append('scale_jobs: target_size of %s must be 0 or more' % (job['name'] or 'a job'))
        if problems:
            raise ModuleError('; '.join(problems))

    def run(self):
        name = self.params['name']
        state = self.params['state']
        if state == 'present':
            self.validate()
        current = self.client.describe_service_cron_scaler(name)
        if not exists(current):
            current = None
            if self.client.describe_service(name) is None:
                if state == 'absent':
                    self.diff(dict(state='absent'), dict(state='absent'))
                    return dict(cron_scaler={})
                raise ModuleError(
                    'service %s does not exist: create it first (llmops.eas_stack.eas_service), then its scheduled '
                    'scaler' % name
                )
        jobs = self.params['scale_jobs'] or []
        with_names = any(j['name'] for j in jobs)
        current_jobs = [
            dict(name=j['name'], schedule=j['schedule'], target_size=j['target_size'])
            for j in cron_result(current).get('scale_jobs', [])
        ]
        before = (
            dict(
                state='present',
                scale_jobs=compared_jobs(current_jobs, with_names),
                exclude_dates=sorted(current.get('ExcludeDates') or []),
            )
            if current
            else dict(state='absent')
        )
        if state == 'absent':
            if current:
                self.do('DeleteServiceCronScaler', self.client.delete_service_cron_scaler, name)
            self.diff(before, dict(state='absent'))
            return dict(cron_scaler={} if current and not self.check_mode else cron_result(current))
        after = dict(
            state='present',
            scale_jobs=compared_jobs(jobs, with_names),
            exclude_dates=sorted(self.params['exclude_dates']),
        )
        if current is None:
            self.do(
                'CreateServiceCronScaler',
                self.client.create_service_cron_scaler,
                name,
                jobs,
                self.params['exclude_dates'],
            )
        elif before != after:
            self.do(
                'UpdateServiceCronScaler',
                self.client.update_service_cron_scaler,
                name,
                jobs,
                self.params['exclude_dates'],
            )
        self.diff(before, after if self.actions else before)
        if self.actions and not self.check_mode:
            current = self.client.describe_service_cron_scaler(name) or current
        return dict(cron_scaler=cron_result(current))


def main():
    CronScalerRunner.main()


if __name__ == '__main__':
    main()

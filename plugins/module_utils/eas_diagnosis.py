# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Why a PAI-EAS service is where it is: one-line progress while waiting, the full explanation when a wait fails."""

from __future__ import annotations

import json

from ansible_collections.llmops.eas_stack.plugins.module_utils.eas_client import EASError


def event_message(raw):
    """Event ``Message`` is a JSON string; show its ``message`` when it has one."""
    if isinstance(raw, str):
        try:
            parsed = json.loads(raw)
        except ValueError:
            return raw
        if isinstance(parsed, dict) and parsed.get('message'):
            return str(parsed['message'])
    return str(raw)


def latest_warning(client, name):
    """The latest warning event of a service as one line, or None (also when it cannot be read)."""
    try:
        events = client.describe_service_events(name, event_type='Warning')
    except EASError:
        return None
    if not events:
        return None
    event = events[-1]
    return '%s %s' % (event.get('Reason'), event_message(event.get('Message')))


def service_summary(service):
    """``Status (Reason), running R of T`` for progress lines."""
    if not service:
        return 'not visible yet'
    text = str(service.get('Status'))
    if service.get('Reason') and service.get('Reason') != service.get('Status'):
        text += ' (%s)' % service.get('Reason')
    if service.get('TotalInstance') is not None:
        text += ', running %s of %s' % (service.get('RunningInstance'), service.get('TotalInstance'))
    return text


def explain_service(client, name, service, headline, events=5, log_lines=10):
    """A failure message: the headline, the service's state, warning events, diagnosis, last log lines."""
    lines = [headline]
    if service:
        lines.append(
            'Status: %s (Reason: %s) Message: %s; instances running %s of %s, pending %s'
            % (
                service.get('Status'),
                service.get('Reason'),
                service.get('Message'),
                service.get('RunningInstance'),
                service.get('TotalInstance'),
                service.get('PendingInstance'),
            )
        )
    try:
        warnings = client.describe_service_events(name, event_type='Warning')
        if warnings:
            lines.append('Warning events (latest %d):' % min(events, len(warnings)))
            for event in warnings[-events:]:
                lines.append(
                    '  - %s %s: %s' % (event.get('Time'), event.get('Reason'), event_message(event.get('Message')))
                )
        else:
            lines.append('Warning events: none')
    except EASError as err:
        lines.append('Warning events: could not be read (%s)' % err)
    try:
        diagnosis = client.describe_service_diagnosis(name)
        if diagnosis:
            lines.append('Diagnosis:')
            for item in diagnosis:
                lines.append('  - Error: %s' % item.get('Error'))
                lines.extend('    Cause: %s' % cause for cause in item.get('Causes') or [])
                lines.extend('    Advice: %s' % advice for advice in item.get('Advices') or [])
        else:
            lines.append('Diagnosis: none')
    except EASError as err:
        lines.append('Diagnosis: could not be read (%s)' % err)
    try:
        logs = client.describe_service_log(name)
        if logs:
            lines.append('Last %d log lines:' % min(log_lines, len(logs)))
            lines.extend('  | %s' % line for line in logs[-log_lines:])
        else:
            lines.append('Log: empty')
    except EASError as err:
        lines.append('Log: could not be read (%s)' % err)
    return '\n'.join(lines)

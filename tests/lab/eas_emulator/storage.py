# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""``storage[]`` of a service config, checked as CreateService / UpdateService check it.

An OSS mount is ``{"mount_path": "/dir", "oss": {"path": "oss://<bucket>/<dir>/", "endpoint": "...", "readOnly": b}}``.
The path names the bucket only: an endpoint written into it (``oss://<bucket>.oss-<region>-internal.aliyuncs.com/...``,
the training-job input spelling) is refused; the endpoint goes into ``oss.endpoint``.
"""

from __future__ import annotations

import re

from .common import ApiError

OSS_PATH_RE = re.compile(r'^oss://(?P<bucket>[^/]*)/(?P<dir>.*)$')
# OSS bucket names: 3-63 characters, lowercase letters, digits and hyphens, starting and ending with a letter or digit.
BUCKET_RE = re.compile(r'^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$')


def _invalid(message: str) -> ApiError:
    return ApiError(400, 'InvalidParameter', message)


def check_oss(where: str, oss) -> None:
    if not isinstance(oss, dict):
        raise _invalid(f'{where}.oss must be an object with a path.')
    path = oss.get('path')
    if not isinstance(path, str) or not path:
        raise _invalid(f'{where}.oss.path is required, e.g. oss://examplebucket/models/.')
    found = OSS_PATH_RE.match(path)
    if found is None:
        raise _invalid(
            f'Invalid oss path {path!r} in {where}.oss.path: expected oss://<bucket>/<dir>/, e.g. oss://examplebucket/models/.'
        )
    bucket = found.group('bucket')
    if not BUCKET_RE.match(bucket):
        hint = ''
        if '.' in bucket:
            hint = (
                ' Put the OSS endpoint in oss.endpoint (e.g. oss-cn-hangzhou-internal.aliyuncs.com), not in the path.'
            )
        raise _invalid(
            f'Invalid oss path {path!r} in {where}.oss.path: the bucket name {bucket!r} is invalid; a bucket name has '
            f'3-63 lowercase letters, digits and hyphens and starts and ends with a letter or digit.{hint}'
        )
    endpoint = oss.get('endpoint')
    if endpoint is not None and (not isinstance(endpoint, str) or '/' in endpoint.split('://', 1)[-1]):
        raise _invalid(f'{where}.oss.endpoint must be an OSS endpoint host name, got {endpoint!r}.')


def check_storage(config: dict) -> None:
    """Raise ``InvalidParameter`` (HTTP 400) for a ``storage`` list EAS would refuse."""
    storage = config.get('storage')
    if storage is None:
        return
    if not isinstance(storage, list):
        raise _invalid('storage must be a list of mounts.')
    for index, mount in enumerate(storage):
        where = f'storage[{index}]'
        if not isinstance(mount, dict):
            raise _invalid(f'{where} must be an object.')
        mount_path = mount.get('mount_path')
        if not isinstance(mount_path, str) or not mount_path.startswith('/'):
            raise _invalid(f'{where}.mount_path must be an absolute path in the container, got {mount_path!r}.')
        if 'oss' in mount:
            check_oss(where, mount['oss'])

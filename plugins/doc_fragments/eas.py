# -*- coding: utf-8 -*-
# Copyright: llmops.eas_stack contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Common options of every PAI-EAS module (region, endpoint, credentials)."""

    DOCUMENTATION = r"""
options:
  region:
    description:
      - The Alibaba Cloud region id, for example V(cn-hangzhou).
      - Also the C(ClusterId) path parameter of every PAI-EAS API call.
      - If not set, the environment variable E(ALIBABA_CLOUD_REGION_ID), then E(ALICLOUD_REGION)
        or E(ALICLOUD_REGION_ID) is used. The module fails when none is set.
    type: str
  endpoint:
    description:
      - The PAI-EAS API endpoint. Either a host (V(pai-eas-manage-vpc.cn-hangzhou.aliyuncs.com)),
        a host and port (V(pai-eas.example:8443)) or a URL with a scheme (V(http://127.0.0.1:18080)).
      - Without a scheme, HTTPS is used. Use a URL with V(http://) for a plain-HTTP endpoint such as the lab emulator.
      - Defaults to V(pai-eas.<region>.aliyuncs.com). The SDK's own fallback host (V(eas.<region>.aliyuncs.com))
        is never used, because it is wrong for regions missing from the SDK's endpoint map.
    type: str
  access_key_id:
    description:
      - The AccessKey ID.
      - If not set, E(ALIBABA_CLOUD_ACCESS_KEY_ID), then E(ALICLOUD_ACCESS_KEY_ID) or E(ALICLOUD_ACCESS_KEY) is used.
      - When neither O(access_key_id) nor O(access_key_secret) is found, the alibabacloud-credentials
        default chain is tried (OIDC, C(~/.aliyun/config.json), C(~/.alibabacloud/credentials), ECS RAM role,
        credentials URI).
    type: str
  access_key_secret:
    description:
      - The AccessKey secret.
      - If not set, E(ALIBABA_CLOUD_ACCESS_KEY_SECRET), then E(ALICLOUD_SECRET_KEY) or E(ALICLOUD_ACCESS_KEY_SECRET) is used.
    type: str
  security_token:
    description:
      - The STS security token, when O(access_key_id) and O(access_key_secret) are temporary STS credentials.
      - If not set, E(ALIBABA_CLOUD_SECURITY_TOKEN), then E(ALICLOUD_SECURITY_TOKEN) is used.
    type: str
notes:
  - API calls are retried with jittered exponential backoff on throttling (C(Throttling*) codes), HTTP 5xx,
    C(ServiceUnavailable), C(InternalError), network errors and HTML error pages of a gateway, up to 5 retries per
    call and 20 per module run. Calls that create something are retried only on throttling. After another error
    the module looks whether the object was created anyway before it fails, so nothing is created twice.
  - While waiting, a poll the API does not answer does not end the wait; polling goes on until the wait's own timeout,
    outside the retry budget, and a failure message says how long the API was unreachable.
requirements:
  - alibabacloud-eas20210701 >= 6.17.0, < 7 (the maintained 6.x line; 7.0.0 is an older API surface)
  - alibabacloud-tea-openapi >= 0.4.5
  - alibabacloud-credentials (only when credentials come from the default chain)
"""

    # Options of the modules that return service endpoints (eas_service, eas_service_info).
    SERVICE_ENDPOINTS = r"""
options:
  https_endpoints:
    description:
      - PAI-EAS returns the service endpoints with V(http://), but its internet gateway serves them over HTTPS too.
      - When V(true), the returned C(internet_endpoint) uses V(https://), and so does the endpoint probe, so that the
        service token never crosses the internet in clear.
      - Set V(false) only for a plain-HTTP endpoint such as the lab emulator.
    type: bool
    default: true
  https_intranet_endpoint:
    description:
      - Return C(intranet_endpoint) (the VPC endpoint) with V(https://) too. EAS gives it with V(http://) and does not
        document TLS on it, so it is returned as EAS gives it unless this is V(true).
    type: bool
    default: false
"""

    # Options of the modules that read the region's offer (eas_machine_spec_info, eas_region_info).
    MACHINE_SPEC = r"""
options:
  charge_type:
    description:
      - The billing the specs are for.
    type: str
    choices: [PostPaid, PrePaid]
  resource_type:
    description:
      - Which offer to read. V(Dedicated) lists the ECS types a dedicated resource group can buy; V(Public) (the
        server's default when unset) the types of the public resource group.
    type: str
    choices: [Dedicated, Public]
"""

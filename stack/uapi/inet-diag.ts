/**
 * Socket monitoring over NETLINK_SOCK_DIAG (Linux include/uapi/linux/sock_diag.h and
 * inet_diag.h): the request type and the sizes of the request and the answer.
 */
export const SOCK_DIAG_BY_FAMILY = 20;
/** sizeof(struct inet_diag_req_v2) and sizeof(struct inet_diag_msg). */
export const INET_DIAG_REQ_V2_LEN = 56;
export const INET_DIAG_MSG_LEN = 72;

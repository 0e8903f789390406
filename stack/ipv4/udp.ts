/** UDP (net/ipv4/udp.c). */
export interface UdpTable {
  create(): import('../socket/syscalls.js').DatagramSock | number;
}

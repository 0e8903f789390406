/**
 * The lab network's addresses (192.0.2.0/24, TEST-NET-1: documentation space that no real
 * network routes) and a static configuration for scenarios that do not use DHCP.
 */
import { inetAddAddress, inetAddRoute } from '../stack/ipv4/devinet.js';
import type { ScenarioContext } from './scenario.js';

export const LAB_ADDR = 0xc0000201; // 192.0.2.1: lab host, gateway, DHCP and DNS server
export const DUT_STATIC_ADDR = 0xc0000202; // 192.0.2.2
export const LAB_PREFIX = 24;

export function staticNetwork(ctx: ScenarioContext): void {
  inetAddAddress(ctx.lab.stack, ctx.lab.dev.ifindex, LAB_ADDR, LAB_PREFIX);
  inetAddAddress(ctx.dut.stack, ctx.dut.dev.ifindex, DUT_STATIC_ADDR, LAB_PREFIX);
  inetAddRoute(ctx.dut.stack, 0, 0, LAB_ADDR, ctx.dut.dev.ifindex);
}

/* SPDX-License-Identifier: MIT */
/*
 * lwIP's options for the Cortex-M3 network image (src/device/mps2, with
 * SIOT_FW_LWIP): the raw API without an OS (NO_SYS), IPv4 with ARP on
 * Ethernet, TCP for one siot connection at a time and ICMP (ping); no UDP,
 * DHCP, DNS or sockets.  The address is static, from the provisioned page.
 * The same file serves lwIP 2.1.3 and 2.2.1.
 */
#ifndef SIOT_LWIPOPTS_H
#define SIOT_LWIPOPTS_H

#define NO_SYS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0
#define LWIP_IPV4 1
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_ICMP 1
#define LWIP_RAW 0
#define LWIP_UDP 0
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_DNS 0
#define LWIP_IGMP 0
#define LWIP_TCP 1
#define LWIP_SINGLE_NETIF 1
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_STATS 0
#define LWIP_TCP_KEEPALIVE 0

/* Memory: one connection in service and a few more being refused or
 * closing. */
#define MEM_ALIGNMENT 4
#define MEM_SIZE (16 * 1024)
#define MEMP_NUM_PBUF 16
#define MEMP_NUM_TCP_PCB 6
#define MEMP_NUM_TCP_PCB_LISTEN 1
#define MEMP_NUM_TCP_SEG 16
#define PBUF_POOL_SIZE 16
#define TCP_MSS 536
#define TCP_WND (4 * TCP_MSS)
#define TCP_SND_BUF (4 * TCP_MSS)
#define TCP_LISTEN_BACKLOG 1

#endif

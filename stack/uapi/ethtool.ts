/**
 * The SIOCETHTOOL interface (Linux include/uapi/linux/ethtool.h): commands, string sets, the
 * i386 sizes of the structures they pass and the link-mode bits, as `ethtool` and the stack's
 * dev_ethtool (stack/core/ethtool.ts) both use them.
 */
export const ETHTOOL_GSET = 0x01;
export const ETHTOOL_GDRVINFO = 0x03;
export const ETHTOOL_GLINK = 0x0a;
export const ETHTOOL_GCOALESCE = 0x0e;
export const ETHTOOL_GRINGPARAM = 0x10;
export const ETHTOOL_GSTRINGS = 0x1b;
export const ETHTOOL_GSTATS = 0x1d;
export const ETHTOOL_GSSET_INFO = 0x37;
export const ETHTOOL_GLINKSETTINGS = 0x4c;

export const ETH_SS_TEST = 0;
export const ETH_SS_STATS = 1;
export const ETH_SS_PRIV_FLAGS = 2;
export const ETH_GSTRING_LEN = 32;

/** sizeof on i386 of the structures handled here. */
export const ETHTOOL_DRVINFO_SIZE = 196;
export const ETHTOOL_CMD_SIZE = 44;
export const ETHTOOL_LINK_SETTINGS_SIZE = 48;
export const ETHTOOL_VALUE_SIZE = 8;
export const ETHTOOL_COALESCE_SIZE = 92;
export const ETHTOOL_RINGPARAM_SIZE = 36;
export const ETHTOOL_GSTRINGS_SIZE = 12;
export const ETHTOOL_STATS_SIZE = 8;
export const ETHTOOL_SSET_INFO_SIZE = 16;

/**
 * __ETHTOOL_LINK_MODE_MASK_NU32: __ETHTOOL_LINK_MODE_MASK_NBITS in 6.1 is 93 (the last mode is
 * ETHTOOL_LINK_MODE_10baseT1L_Full_BIT, 92; the 10baseT1S and 800G modes came in 6.3 and 6.4),
 * so 3 u32 words.
 */
export const ETHTOOL_LINK_MODE_MASK_NU32 = 3;

export const ETHTOOL_LINK_MODE = {
  '10baseT_Half': 0,
  '10baseT_Full': 1,
  '100baseT_Half': 2,
  '100baseT_Full': 3,
  '1000baseT_Full': 5,
  Autoneg: 6,
  TP: 7,
  MII: 9,
} as const;

export const DUPLEX_HALF = 0;
export const DUPLEX_FULL = 1;
export const PORT_TP = 0x00;
export const AUTONEG_ENABLE = 1;

// SPDX-License-Identifier: MIT
// The plugin's entry: Homebridge calls it with its API.
'use strict';

const { PLATFORM, SiotPlatform } = require('./lib/platform.js');

module.exports = (api) => {
  api.registerPlatform(PLATFORM, SiotPlatform);
};

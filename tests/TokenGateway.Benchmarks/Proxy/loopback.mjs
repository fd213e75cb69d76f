// Preloaded into the npm peer gateway (node --import) by the proxy benchmark: its start script listens
// on every interface and has no option for the address, and the benchmark must stay on loopback.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number') {
    return listen.call(this, args[0], '127.0.0.1', ...args.slice(1).filter((a) => typeof a === 'function'));
  }
  if (args[0] && typeof args[0] === 'object' && !args[0].path) {
    return listen.call(this, { ...args[0], host: '127.0.0.1' }, ...args.slice(1));
  }
  return listen.apply(this, args);
};

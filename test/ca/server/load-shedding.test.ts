/** The CA server's load shedder on its own: who is cut off when connections or body memory run out. */
import test from 'ava';
import { Socket } from 'node:net';
import { LoadShedder } from '../../../src/ca/server/load-shedding.js';

test('past the connection cap the longest-unfinished connection goes; one whose answer is being computed never does', (t) => {
  const shedder = new LoadShedder({ maxConnections: 2, maxBodiesInFlightBytes: 1_000, maxPipelinedRequests: 4 });
  const [first, second, third, fourth] = [new Socket(), new Socket(), new Socket(), new Socket()];
  t.true(shedder.admit(first));
  t.true(shedder.admit(second));
  shedder.computing(first);
  t.true(shedder.admit(third), 'admitted: the second connection, unfinished, made room');
  t.true(second.destroyed);
  t.false(first.destroyed, 'a request being answered is not shed');
  shedder.computing(third);
  t.false(shedder.admit(fourth), 'every other connection is being answered: the newcomer is the one refused');
  t.true(fourth.destroyed);
  t.is(shedder.load.connections, 2);
});

test('body memory: the longest-unfinished body is dropped to make room; when nothing can be dropped, the chunk is refused', (t) => {
  const shedder = new LoadShedder({ maxConnections: 10, maxBodiesInFlightBytes: 1_000, maxPipelinedRequests: 4 });
  const [slow, answered, prompt] = [new Socket(), new Socket(), new Socket()];
  for (const socket of [slow, answered, prompt]) shedder.admit(socket);
  t.true(shedder.hold(slow, 600));
  t.true(shedder.hold(answered, 300));
  shedder.computing(answered);
  t.true(shedder.hold(prompt, 500), 'fits once the slow body is dropped');
  t.true(slow.destroyed);
  t.is(shedder.load.bodyBytes, 800);
  t.false(shedder.hold(prompt, 300), "the rest is a body being answered and this request's own");
  shedder.computed(answered);
  shedder.release(answered, 300);
  t.is(shedder.load.bodyBytes, 500, 'a computed answer frees its body');
});

test('an answer written but not taken (a client that does not read) no longer protects its connection: it is shed like an unfinished request', (t) => {
  const shedder = new LoadShedder({ maxConnections: 2, maxBodiesInFlightBytes: 1_000, maxPipelinedRequests: 4 });
  const [stalled, computing, newcomer] = [new Socket(), new Socket(), new Socket()];
  shedder.admit(stalled);
  shedder.admit(computing);
  shedder.computing(stalled);
  shedder.computing(computing);
  shedder.computed(stalled); // written; the client never takes it
  t.true(shedder.admit(newcomer));
  t.true(stalled.destroyed, 'the stalled answer lost its place');
  t.false(computing.destroyed, 'the answer still being computed kept its own');
});

test('pipelined requests: each answer frees only its own body; a connection is sheddable only once no answer on it is being computed', (t) => {
  const shedder = new LoadShedder({ maxConnections: 2, maxBodiesInFlightBytes: 1_000, maxPipelinedRequests: 4 });
  const [pipelining, other, newcomer] = [new Socket(), new Socket(), new Socket()];
  shedder.admit(pipelining);
  shedder.admit(other);
  shedder.hold(pipelining, 200);
  shedder.computing(pipelining);
  shedder.hold(pipelining, 300);
  shedder.computing(pipelining);
  shedder.computed(pipelining);
  shedder.release(pipelining, 200);
  shedder.taken(pipelining);
  t.is(shedder.load.bodyBytes, 300, "the second request's body is still held");
  t.true(shedder.admit(newcomer), 'room is made');
  t.true(other.destroyed, 'by cutting the idle connection');
  t.false(pipelining.destroyed, 'not the one whose second request is being answered');
});

test('cutAll ends every connection, whatever it is doing', (t) => {
  const shedder = new LoadShedder({ maxConnections: 10, maxBodiesInFlightBytes: 1_000, maxPipelinedRequests: 4 });
  const sockets = [new Socket(), new Socket()];
  for (const socket of sockets) shedder.admit(socket);
  shedder.computing(sockets[0]!);
  shedder.cutAll();
  t.true(sockets.every((s) => s.destroyed));
  t.is(shedder.load.connections, 0);
});

test('pipelining: a connection with more requests waiting for answers, or sent at once, than the cap is cut', async (t) => {
  const shedder = new LoadShedder({ maxConnections: 10, maxBodiesInFlightBytes: 1_000, maxPipelinedRequests: 2 });
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
  const [polite, unread, burst] = [new Socket(), new Socket(), new Socket()];
  for (const socket of [polite, unread, burst]) shedder.admit(socket);
  for (let i = 0; i < 5; i++) {
    t.true(shedder.arrived(polite), 'one request at a time, however many');
    shedder.taken(polite);
    await nextTurn();
  }
  t.true(shedder.arrived(unread));
  await nextTurn();
  t.true(shedder.arrived(unread));
  await nextTurn();
  t.false(shedder.arrived(unread), 'a third request while two wait for answers');
  t.true(unread.destroyed);
  t.true(shedder.arrived(burst));
  shedder.taken(burst);
  t.true(shedder.arrived(burst));
  shedder.taken(burst);
  t.false(shedder.arrived(burst), 'a third request in one turn, however fast the others were answered');
  t.true(burst.destroyed);
  t.false(polite.destroyed);
});

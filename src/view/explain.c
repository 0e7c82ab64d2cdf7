/* explain.c — each step of a recorded run in plain words, with the RFC section behind it, in
 * English or in Chinese (in the seeds' own terms: 第一次挥手 … 第四次挥手, 半关闭, 2MSL,
 * 主动关闭方/被动关闭方, 同时关闭).
 *
 * Nothing here knows a scenario: a state change is explained from (from, to, kind of cause,
 * flags of the causing segment, user call), a segment from what the analysis in common.c says
 * it is (handshake step, wave of the close, retransmission), a note from its keywords. The
 * sentences are templates whose {placeholders} are filled from the recording, so that "seq=u"
 * reads "seq=u=101" with the numbers of the run.
 */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "view/view_internal.h"

#define ANY (-1)

/* ---- a bounded string builder ---------------------------------------------------------------- */

typedef struct sbuf {
    char *buf;
    size_t cap, len;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n) {
    if (b->cap == 0) return;
    size_t room = b->cap - 1 - b->len;
    if (n > room) {
        n = room;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--; /* not mid-character */
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void sb_str(sbuf *b, const char *s) {
    sb_put(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* ---- templates ------------------------------------------------------------------------------ */

typedef struct env {
    const view_ctx *c;
    size_t i;
    const tcpw_rec_event *e;
} env;

static void put_letter(sbuf *b, const env *v, char letter, bool plus1) {
    uint32_t n;
    sb_printf(b, "%c%s", letter, plus1 ? "+1" : "");
    if (view_letter(v->c, v->c->step[v->i].conn, letter, &n))
        sb_printf(b, "=%lu", (unsigned long)(uint32_t)(n + (plus1 ? 1u : 0u)));
}

/* The letter of the FIN this side sends: u for the active closer, w for the other. */
static char own_fin_letter(const env *v) {
    const view_conn *k = &v->c->conns[v->c->step[v->i].conn];
    return k->closer < 0 || k->closer == v->e->side ? 'u' : 'w';
}

/* The 4th wave's seq: "u+1=102" when it is u+1, as the seeds write it, else the number. */
static void put_seq4(sbuf *b, const env *v) {
    uint32_t u, seq = view_seq(v->c, v->e);
    if (view_letter(v->c, v->c->step[v->i].conn, 'u', &u) && seq == u + 1)
        put_letter(b, v, 'u', true);
    else
        sb_printf(b, "%lu", (unsigned long)seq);
}

static void put_duration(sbuf *b, const env *v) {
    uint64_t d = UINT64_MAX;
    const view_step *s = &v->c->step[v->i];
    if (v->e->kind == TCPW_REC_STATE && s->since != UINT64_MAX && v->e->t_us >= s->since)
        d = v->e->t_us - s->since;
    else if (v->e->kind == TCPW_REC_SEG && !view_retrans_wait(v->c, v->i, &d))
        d = UINT64_MAX;
    char buf[32];
    sb_str(b, d == UINT64_MAX ? "?" : view_duration(d, buf, sizeof buf));
}

static void put_cause_seg(sbuf *b, const env *v) {
    char buf[48];
    sb_str(b, view_flags_long(v->e->cause_seg.flags, "+", buf, sizeof buf));
}

/* Expands one {name}; false when the name is unknown. */
static bool put_field(sbuf *b, const env *v, const char *name, size_t n) {
    const tcpw_rec_event *e = v->e;
    char buf[sizeof e->what + 1];
#define IS(s) (n == sizeof(s) - 1 && memcmp(name, s, n) == 0)
    if (IS("who"))
        sb_str(b, view_who(v->c, e->side));
    else if (IS("peer"))
        sb_str(b, view_who(v->c, 1 - e->side));
    else if (IS("what") || IS("text"))
        sb_str(b, view_what(e, buf, sizeof buf));
    else if (IS("seg"))
        put_cause_seg(b, v);
    else if (IS("u") || IS("v") || IS("w"))
        put_letter(b, v, name[0], false);
    else if (IS("u+1") || IS("w+1"))
        put_letter(b, v, name[0], true);
    else if (IS("myfin"))
        put_letter(b, v, own_fin_letter(v), false);
    else if (IS("seq4"))
        put_seq4(b, v);
    else if (IS("seq"))
        sb_printf(b, "%lu", (unsigned long)view_seq(v->c, e));
    else if (IS("ack"))
        sb_printf(b, "%lu", (unsigned long)view_ack(v->c, e));
    else if (IS("len"))
        sb_printf(b, "%lu", (unsigned long)e->len);
    else if (IS("next"))
        sb_printf(b, "%lu", (unsigned long)(uint32_t)(view_seq(v->c, e) + e->len));
    else if (IS("bytes"))
        sb_printf(b, "%llu", (unsigned long long)e->bytes);
    else if (IS("dur"))
        put_duration(b, v);
    else if (IS("from"))
        sb_str(b, view_state_name((unsigned)e->from < TCPW_STATE_COUNT ? (int)e->from : -1));
    else if (IS("to"))
        sb_str(b, view_state_name((unsigned)e->to < TCPW_STATE_COUNT ? (int)e->to : -1));
    else
        return false;
#undef IS
    return true;
}

static void expand(sbuf *b, const env *v, const char *tpl) {
    while (*tpl) {
        const char *open = strchr(tpl, '{');
        if (!open) {
            sb_str(b, tpl);
            return;
        }
        sb_put(b, tpl, (size_t)(open - tpl));
        const char *close = strchr(open, '}');
        if (!close) {
            sb_str(b, open);
            return;
        }
        if (!put_field(b, v, open + 1, (size_t)(close - open - 1)))
            sb_put(b, open, (size_t)(close - open + 1));
        tpl = close + 1;
    }
}

typedef struct text2 {
    const char *en, *zh;
} text2;

static void expand2(sbuf *b, const env *v, const text2 *t) {
    expand(b, v, v->c->zh ? t->zh : t->en);
}

/* ---- state changes -------------------------------------------------------------------------- */

typedef struct state_rule {
    int from, to, cause; /* ANY matches every value */
    uint8_t need, deny;  /* flags the causing segment must / must not carry */
    const char *what;    /* the user call or timer must start with this (NULL: any) */
    text2 text;
} state_rule;

#define USER  TCPW_CAUSE_USER
#define TIMER TCPW_CAUSE_TIMER
#define SEG   TCPW_CAUSE_SEGMENT
#define S(x)  TCPW_##x

static const state_rule state_rules[] = {
    {S(CLOSED),
     S(LISTEN),
     USER,
     0,
     0,
     NULL,
     {"{who} opens passively ({what}): it waits in LISTEN for a SYN (RFC 9293 §3.10.1)",
      "{who}被动打开（{what}），进入 LISTEN 状态，等待{peer}的 SYN（RFC 9293 §3.10.1）"}},
    {S(CLOSED),
     S(SYN_SENT),
     USER,
     0,
     0,
     NULL,
     {"{who} opens actively ({what}): it sends SYN with its initial sequence number (ISN) and "
      "waits for SYN+ACK (RFC 9293 §3.10.1)",
      "{who}主动打开（{what}）：发送 SYN 报文，携带初始序号 ISN，进入 SYN_SENT 状态"
      "（RFC 9293 §3.10.1）"}},
    {S(LISTEN),
     S(SYN_RCVD),
     SEG,
     TCPW_SYN,
     0,
     NULL,
     {"{who} receives the SYN and answers SYN+ACK: it acknowledges {peer}'s ISN and sends its "
      "own (RFC 9293 §3.10.7.2)",
      "{who}收到 SYN，回复 SYN+ACK 报文（确认{peer}的 ISN，并发送自己的 ISN），进入 SYN_RCVD "
      "状态（RFC 9293 §3.10.7.2）"}},
    {S(SYN_SENT),
     S(SYN_RCVD),
     SEG,
     TCPW_SYN,
     0,
     NULL,
     {"simultaneous open: {who} receives a SYN while its own SYN is unanswered, and answers "
      "SYN+ACK (RFC 9293 §3.5, §3.10.7.3)",
      "同时打开：{who}的 SYN 尚未被确认时收到了{peer}的 SYN，回复 SYN+ACK，进入 SYN_RCVD 状态"
      "（RFC 9293 §3.5、§3.10.7.3）"}},
    {S(SYN_SENT),
     S(ESTABLISHED),
     SEG,
     0,
     TCPW_RST,
     NULL,
     {"{who} receives SYN+ACK and acknowledges it (3rd step of the handshake): the connection "
      "is established (RFC 9293 §3.10.7.3)",
      "{who}收到 SYN+ACK，回复 ACK（第三次握手），连接建立，进入 ESTABLISHED 状态"
      "（RFC 9293 §3.10.7.3）"}},
    {S(SYN_SENT),
     S(CLOSED),
     SEG,
     TCPW_RST,
     0,
     NULL,
     {"{who}'s SYN is answered by RST: nothing listens on that port, the connection is "
      "refused (RFC 9293 §3.10.7.3)",
      "{who}的 SYN 被 RST 拒绝：对端端口没有监听，连接被拒绝（RFC 9293 §3.10.7.3）"}},
    {S(SYN_RCVD),
     S(ESTABLISHED),
     SEG,
     0,
     TCPW_RST,
     NULL,
     {"{who}'s SYN+ACK is acknowledged: the connection is established (RFC 9293 §3.10.7.4)",
      "{who}收到对 SYN+ACK 的确认（第三次握手），连接建立，进入 ESTABLISHED 状态"
      "（RFC 9293 §3.10.7.4）"}},
    {S(SYN_RCVD),
     ANY,
     SEG,
     TCPW_RST,
     0,
     NULL,
     {"a RST in SYN_RCVD: {who} drops the half-open connection (a passive open goes back to "
      "its listener) (RFC 9293 §3.10.7.4)",
      "{who}在 SYN_RCVD 状态收到 RST：放弃这个半连接（被动打开的连接回到监听）"
      "（RFC 9293 §3.10.7.4）"}},
    {ANY,
     S(CLOSED),
     USER,
     0,
     0,
     "abort",
     {"{who} aborts ({what}): it sends RST where the state calls for it and drops the "
      "connection at once, discarding queued data (RFC 9293 §3.10.5)",
      "{who}调用 {what} 中止连接：发送 RST，立即释放连接，丢弃尚未发送的数据"
      "（RFC 9293 §3.10.5）"}},
    {S(LISTEN),
     S(CLOSED),
     USER,
     0,
     0,
     NULL,
     {"{who} stops listening ({what}) (RFC 9293 §3.10.4)",
      "{who}关闭监听（{what}），进入 CLOSED 状态（RFC 9293 §3.10.4）"}},
    {S(SYN_SENT),
     S(CLOSED),
     USER,
     0,
     0,
     NULL,
     {"{who} closes ({what}) before the handshake completes: the connection is deleted "
      "(RFC 9293 §3.10.4)",
      "握手完成之前{who}调用了 {what}：连接直接被删除（RFC 9293 §3.10.4）"}},
    {ANY,
     S(CLOSED),
     TIMER,
     0,
     0,
     "syn",
     {"no answer to the SYN: {who} gives up after its retransmissions (RFC 9293 §3.8.3, "
      "RFC 1122 §4.2.3.5)",
      "SYN 一直没有应答：{who}多次重传后放弃连接（RFC 9293 §3.8.3、RFC 1122 §4.2.3.5）"}},
    {S(ESTABLISHED),
     S(FIN_WAIT_1),
     USER,
     0,
     0,
     "shutdown",
     {"{who} shuts down its sending direction ({what}): it sends FIN (seq={myfin}) and will "
      "send no more data, but can still receive — a half-close; {who} is the active closer "
      "(RFC 9293 §3.10.4, §3.6.1)",
      "{who}调用 {what} 半关闭：发送 FIN 报文（FIN=1，seq={myfin}），进入 FIN_WAIT_1 状态，不再发送"
      "数据但仍可接收（第一次挥手，{who}是主动关闭方；RFC 9293 §3.10.4、§3.6.1）"}},
    {S(ESTABLISHED),
     S(FIN_WAIT_1),
     USER,
     0,
     0,
     NULL,
     {"{who} closes ({what}): it sends FIN (seq={myfin}) and will send no more data; {who} is the "
      "active closer (RFC 9293 §3.10.4)",
      "{who}调用 {what} 主动关闭连接：发送 FIN 报文（FIN=1，seq={myfin}），进入 FIN_WAIT_1 状态，"
      "停止发送数据（第一次挥手，{who}是主动关闭方；RFC 9293 §3.10.4）"}},
    {S(SYN_RCVD),
     S(FIN_WAIT_1),
     USER,
     0,
     0,
     NULL,
     {"{who} closes ({what}) before the handshake completes: it sends FIN (seq={myfin}) "
      "(RFC 9293 §3.10.4)",
      "{who}在 SYN_RCVD 状态调用 {what}：发送 FIN（seq={myfin}），进入 FIN_WAIT_1 状态"
      "（RFC 9293 §3.10.4）"}},
    {S(ESTABLISHED),
     S(CLOSE_WAIT),
     SEG,
     TCPW_FIN,
     TCPW_RST,
     NULL,
     {"{who} receives {peer}'s FIN: {peer} will send no more data; {who} acknowledges it "
      "(ack={u+1}) and can still send — the connection is half-closed; {who} is the passive "
      "closer (RFC 9293 §3.10.7.4, §3.6.1)",
      "{who}收到{peer}的 FIN（第一次挥手），回复 ACK（ack={u+1}，第二次挥手），进入 CLOSE_WAIT "
      "状态：{peer}不再发送数据，{who}仍可继续发送，连接处于半关闭；{who}是被动关闭方"
      "（RFC 9293 §3.10.7.4、§3.6.1）"}},
    {S(FIN_WAIT_1),
     S(FIN_WAIT_2),
     SEG,
     TCPW_ACK,
     TCPW_RST,
     NULL,
     {"{who}'s FIN is acknowledged (ack={u+1}, 2nd wave): {who} waits for {peer}'s FIN and "
      "can still receive data (RFC 9293 §3.10.7.4)",
      "{who}收到对 FIN 的确认（ack={u+1}，第二次挥手），进入 FIN_WAIT_2 状态，等待{peer}的 "
      "FIN，仍可接收数据（RFC 9293 §3.10.7.4）"}},
    {S(FIN_WAIT_1),
     S(CLOSING),
     SEG,
     TCPW_FIN,
     TCPW_RST,
     NULL,
     {"{who} receives {peer}'s FIN before the ACK of its own: both sides close at the same "
      "time (simultaneous close); {who} acknowledges it and waits in CLOSING for the ACK of "
      "its FIN (RFC 9293 §3.6, §3.10.7.4)",
      "同时关闭：{who}发出 FIN 后，还没收到确认就先收到了{peer}的 FIN；回复 ACK，进入 CLOSING "
      "状态，等待对自己 FIN 的确认（RFC 9293 §3.6、§3.10.7.4）"}},
    {S(FIN_WAIT_1),
     S(TIME_WAIT),
     SEG,
     TCPW_FIN,
     TCPW_RST,
     NULL,
     {"{who} receives FIN+ACK: it acknowledges {who}'s FIN and carries {peer}'s FIN (2nd and "
      "3rd wave in one segment); {who} answers ACK (4th wave), skips FIN_WAIT_2 and waits 2MSL "
      "in TIME_WAIT (RFC 9293 §3.10.7.4, §3.6.1)",
      "{who}在 FIN_WAIT_1 状态收到 FIN+ACK（第二、三次挥手合并）：回复 ACK（第四次挥手），跳过 "
      "FIN_WAIT_2，直接进入 TIME_WAIT 状态，等待 2MSL（RFC 9293 §3.10.7.4、§3.6.1）"}},
    {S(FIN_WAIT_2),
     S(TIME_WAIT),
     SEG,
     TCPW_FIN,
     TCPW_RST,
     NULL,
     {"{who} receives {peer}'s FIN (seq={w}, 3rd wave) and answers ACK (ack={w+1}, 4th "
      "wave); it stays in TIME_WAIT for 2MSL so that it can repeat the last ACK if that is "
      "lost, and so that old segments of this connection die out before the 4-tuple is used "
      "again (RFC 9293 §3.6.1, RFC 1122 §4.2.2.13)",
      "{who}收到{peer}的 FIN（seq={w}，第三次挥手），回复 ACK（ack={w+1}，第四次挥手），进入 "
      "TIME_WAIT 状态，等待 2MSL：最后的 ACK 丢失时还能重发，并让本连接的报文在网络中消失"
      "（RFC 9293 §3.6.1、RFC 1122 §4.2.2.13）"}},
    {S(CLOSING),
     S(TIME_WAIT),
     SEG,
     TCPW_ACK,
     TCPW_RST,
     NULL,
     {"simultaneous close: {who}'s FIN is acknowledged; like any active closer it waits 2MSL "
      "in TIME_WAIT (RFC 9293 §3.10.7.4, §3.6.1)",
      "同时关闭：{who}的 FIN 得到确认，进入 TIME_WAIT 状态，同样等待 2MSL"
      "（RFC 9293 §3.10.7.4、§3.6.1）"}},
    {S(CLOSE_WAIT),
     S(LAST_ACK),
     USER,
     0,
     0,
     NULL,
     {"{who} closes too ({what}): it sends its own FIN (seq={w}, 3rd wave) and waits for the "
      "last ACK (RFC 9293 §3.10.4)",
      "{who}数据发送完毕，调用 {what}：发送 FIN 报文（FIN=1，seq={w}，第三次挥手），进入 "
      "LAST_ACK 状态，等待最后的 ACK（RFC 9293 §3.10.4）"}},
    {S(LAST_ACK),
     S(CLOSED),
     SEG,
     0,
     TCPW_RST,
     NULL,
     {"{who}'s FIN is acknowledged (ack={w+1}, 4th wave): the connection is closed; the "
      "passive closer needs no TIME_WAIT (RFC 9293 §3.10.7.4)",
      "{who}收到最后的 ACK（ack={w+1}，第四次挥手），进入 CLOSED 状态，连接关闭；被动关闭方"
      "不需要等待 2MSL（RFC 9293 §3.10.7.4）"}},
    {S(TIME_WAIT),
     S(CLOSED),
     TIMER,
     0,
     0,
     NULL,
     {"2MSL has passed ({dur} in TIME_WAIT): every segment of this connection has died out, "
      "so {who} deletes it and the 4-tuple can be used again (RFC 9293 §3.6.1, §3.10.8; "
      "RFC 1122 §4.2.2.13)",
      "2MSL 到时（在 TIME_WAIT 停留了 {dur}）：本连接的报文都已在网络中消失，{who}进入 CLOSED "
      "状态，四元组可以再次使用（RFC 9293 §3.6.1、§3.10.8；RFC 1122 §4.2.2.13）"}},
    {S(TIME_WAIT),
     ANY,
     SEG,
     TCPW_SYN,
     TCPW_RST,
     NULL,
     {"a new SYN arrives in TIME_WAIT with a higher sequence number (or timestamp) than the "
      "old connection used: {who} ends TIME_WAIT early and accepts the new connection "
      "(RFC 9293 §3.6.1, RFC 1122 §4.2.2.13, RFC 6191)",
      "TIME_WAIT 状态下收到新的 SYN，其序号（或时间戳）大于旧连接：{who}提前结束 TIME_WAIT，"
      "接受新连接（RFC 9293 §3.6.1、RFC 1122 §4.2.2.13、RFC 6191）"}},
    {S(TIME_WAIT),
     S(CLOSED),
     SEG,
     TCPW_RST,
     0,
     NULL,
     {"{who} accepts a RST in TIME_WAIT and closes early — the TIME-WAIT assassination that "
      "RFC 1337 protection would prevent (RFC 9293 §3.10.7.4, RFC 1337)",
      "{who}在 TIME_WAIT 状态接受了 RST 并提前关闭——这正是 RFC 1337 所说的 TIME_WAIT 被"
      "“暗杀”（RFC 9293 §3.10.7.4、RFC 1337）"}},
    {ANY,
     S(CLOSED),
     SEG,
     TCPW_RST,
     0,
     NULL,
     {"{who} receives a valid RST: the connection is reset at once, queued data is discarded "
      "and the application is told 'connection reset' (RFC 9293 §3.10.7.4; the RST must carry "
      "exactly the expected sequence number, RFC 5961 §3.2)",
      "{who}收到合法的 RST 报文：连接立即重置，进入 CLOSED 状态，未发送的数据被丢弃，应用收到"
      "“连接被重置”（RFC 9293 §3.10.7.4；RST 的序号必须恰好是期望值，RFC 5961 §3.2）"}},
    {S(FIN_WAIT_2),
     S(CLOSED),
     SEG,
     0,
     0,
     NULL,
     {"data arrives after {who}'s application has closed: nobody will ever read it, so {who} "
      "answers RST and closes (RFC 2525 §2.17, RFC 9293 §3.10.7.4)",
      "{who}的应用关闭后又收到数据：再也没有人读取，{who}回复 RST 并关闭（RFC 2525 §2.17、"
      "RFC 9293 §3.10.7.4）"}},
    {ANY,
     S(CLOSED),
     USER,
     0,
     0,
     "close",
     {"{who} closes ({what}) with received data still unread: instead of FIN it sends RST, so "
      "{peer} learns that data was lost (RFC 2525 §2.17, RFC 9293 §3.10.4)",
      "{who}调用 {what} 时还有未读取的数据：不发送 FIN 而是发送 RST，让{peer}知道数据丢失"
      "（RFC 2525 §2.17、RFC 9293 §3.10.4）"}},
    {S(FIN_WAIT_2),
     S(CLOSED),
     TIMER,
     0,
     0,
     NULL,
     {"{peer} never sent its FIN: {who}'s orphaned FIN_WAIT_2 times out after {dur} (Linux "
      "tcp_fin_timeout; RFC 9293 itself lets FIN-WAIT-2 last, §3.10.7.4)",
      "{peer}一直没有发送 FIN：{who}的 FIN_WAIT_2 在 {dur} 后超时，进入 CLOSED 状态（Linux "
      "tcp_fin_timeout；RFC 9293 本身允许 FIN_WAIT_2 一直等待，§3.10.7.4）"}},
    {ANY,
     S(CLOSED),
     TIMER,
     0,
     0,
     NULL,
     {"no acknowledgment came back: {who} gives up after its retransmissions and closes the "
      "connection (RFC 9293 §3.8.3, RFC 1122 §4.2.3.5)",
      "一直收不到确认：{who}多次重传后放弃，进入 CLOSED 状态（RFC 9293 §3.8.3、"
      "RFC 1122 §4.2.3.5）"}},
};

static const text2 state_fallback = {"{who}: {from} → {to}", "{who}：{from} → {to}"};

static bool rule_matches(const state_rule *rule, const tcpw_rec_event *e, const char *what) {
    if ((rule->from != ANY && rule->from != (int)e->from) ||
        (rule->to != ANY && rule->to != (int)e->to) ||
        (rule->cause != ANY && rule->cause != (int)e->cause))
        return false;
    uint8_t flags = e->cause == TCPW_CAUSE_SEGMENT ? e->cause_seg.flags : 0;
    if ((flags & rule->need) != rule->need || (flags & rule->deny)) return false;
    return !rule->what || strncmp(what, rule->what, strlen(rule->what)) == 0;
}

static void explain_state(sbuf *b, const env *v) {
    char what[sizeof v->e->what + 1];
    view_what(v->e, what, sizeof what);
    for (size_t k = 0; k < sizeof state_rules / sizeof state_rules[0]; k++) {
        if (rule_matches(&state_rules[k], v->e, what)) {
            expand2(b, v, &state_rules[k].text);
            return;
        }
    }
    expand2(b, v, &state_fallback);
}

/* ---- segments ------------------------------------------------------------------------------- */

static const text2 role_text[] = {
    [VIEW_ROLE_OTHER] = {"", ""},
    [VIEW_ROLE_SYN] = {"1st step of the three-way handshake: {who} sends SYN (seq={seq}) with "
                       "its initial sequence number (RFC 9293 §3.5)",
                       "第一次握手：{who}发送 SYN 报文（SYN=1，seq={seq}），携带初始序号 ISN"
                       "（RFC 9293 §3.5）"},
    [VIEW_ROLE_SYNACK] = {"2nd step of the handshake: {who} acknowledges the SYN (ack={ack}) "
                          "and sends its own SYN (seq={seq}) (RFC 9293 §3.5)",
                          "第二次握手：{who}回复 SYN+ACK 报文（SYN=1，ACK=1，seq={seq}，"
                          "ack={ack}）（RFC 9293 §3.5）"},
    [VIEW_ROLE_HS_ACK] = {"3rd step of the handshake: {who} acknowledges {peer}'s SYN "
                          "(ack={ack}); data can now flow both ways (RFC 9293 §3.5)",
                          "第三次握手：{who}回复 ACK 报文（ACK=1，seq={seq}，ack={ack}），"
                          "双方都可以发送数据了（RFC 9293 §3.5）"},
    [VIEW_ROLE_DATA] = {"{who} sends {len} bytes of data (seq={seq}; the next byte is {next})",
                        "{who}发送 {len} 字节数据（seq={seq}，下一个字节的序号是 {next}）"},
    [VIEW_ROLE_ACK] = {"{who} acknowledges every byte before {ack} (ack={ack})",
                       "{who}确认收到序号 {ack} 之前的全部数据（ack={ack}）"},
    [VIEW_ROLE_RST] = {"{who} sends RST (seq={seq}): a reset ends the connection at once, "
                       "without the four-way close (RFC 9293 §3.5.2)",
                       "{who}发送 RST 报文（seq={seq}）：立即终止连接，不经过四次挥手"
                       "（RFC 9293 §3.5.2）"},
    [VIEW_ROLE_WAVE1] = {"1st wave: {who} sends FIN (FIN=1, seq={u}): it has no more data to "
                         "send (RFC 9293 §3.6)",
                         "第一次挥手：{who}发送 FIN 报文（FIN=1，seq={u}），不再发送数据"
                         "（RFC 9293 §3.6）"},
    [VIEW_ROLE_WAVE2] = {"2nd wave: {who} acknowledges the FIN (ACK=1, seq={v}, ack={u+1}); "
                         "{who} may still send data (RFC 9293 §3.6)",
                         "第二次挥手：{who}回复 ACK 报文（ACK=1，seq={v}，ack={u+1}），确认收到 "
                         "FIN，但仍可继续发送数据（RFC 9293 §3.6）"},
    [VIEW_ROLE_WAVE3] = {"3rd wave: {who} has finished sending too and sends its FIN (FIN=1, "
                         "ACK=1, seq={w}, ack={u+1}) (RFC 9293 §3.6)",
                         "第三次挥手：{who}数据发送完毕，发送 FIN 报文（FIN=1，ACK=1，seq={w}，"
                         "ack={u+1}）（RFC 9293 §3.6）"},
    [VIEW_ROLE_WAVE23] = {"2nd and 3rd wave in one segment: {who} has nothing more to send, "
                          "so its ACK of the FIN and its own FIN travel together (FIN=1, "
                          "ACK=1, seq={w}, ack={u+1}) (RFC 9293 §3.6)",
                          "第二、三次挥手合并：{who}没有数据要发送，ACK 和 FIN 合并为一个报文"
                          "（FIN=1，ACK=1，seq={w}，ack={u+1}）（RFC 9293 §3.6）"},
    [VIEW_ROLE_WAVE4] = {"4th wave: {who} acknowledges {peer}'s FIN (ACK=1, seq={seq4}, "
                         "ack={w+1}); {peer} can close now (RFC 9293 §3.6)",
                         "第四次挥手：{who}回复 ACK 报文（ACK=1，seq={seq4}，ack={w+1}），"
                         "{peer}收到后即可关闭（RFC 9293 §3.6）"},
};

static const text2 crossing_fin = {
    "{who}'s FIN (seq={w}) crosses {peer}'s FIN in the network: a simultaneous close, both "
    "sides are active closers (RFC 9293 §3.6)",
    "同时关闭：{who}的 FIN（seq={w}）与{peer}的 FIN 在网络中交错，双方都是主动关闭方"
    "（RFC 9293 §3.6）"};
static const text2 crossing_ack = {
    "simultaneous close: {who} acknowledges {peer}'s FIN (ACK=1, seq={v}, ack={u+1}) after "
    "sending its own (RFC 9293 §3.6)",
    "同时关闭：{who}在发出自己的 FIN 之后，确认{peer}的 FIN（ACK=1，seq={v}，ack={u+1}）"
    "（RFC 9293 §3.6）"};
static const text2 repeated_wave4 = {
    "{who}, still in TIME_WAIT, acknowledges the retransmitted FIN again (ack={w+1}) and "
    "restarts its 2MSL timer — this is what TIME_WAIT is for (RFC 9293 §3.10.7.4, RFC 1122 "
    "§4.2.2.13)",
    "{who}仍处于 TIME_WAIT 状态，再次回复 ACK（ack={w+1}）并重新开始 2MSL 计时——这正是 "
    "TIME_WAIT 的作用（RFC 9293 §3.10.7.4、RFC 1122 §4.2.2.13）"};
static const text2 last_ack_retrans = {
    "LAST_ACK retransmission: no ACK of {who}'s FIN came within the retransmission timeout "
    "({dur}), so {who} sends its FIN (seq={w}) again; {peer} must still be in TIME_WAIT to "
    "answer it (RFC 9293 §3.10.7.4, RFC 1122 §4.2.2.13)",
    "LAST_ACK 重传：{who}在超时时间（{dur}）内没有收到对 FIN 的确认，重发 FIN（seq={w}）；"
    "{peer}必须仍处于 TIME_WAIT 状态才能再次回复 ACK（RFC 9293 §3.10.7.4、RFC 1122 §4.2.2.13）"};
static const text2 retrans_prefix = {
    "retransmission, {dur} after the previous copy went unacknowledged (RTO, RFC 6298; "
    "RFC 9293 §3.8.1) — ",
    "超时重传（距上次发送 {dur} 仍未被确认，RFC 6298、RFC 9293 §3.8.1）——"};
static const text2 fate_suffix[] = {
    [TCPW_FATE_DELIVERED] = {"", ""},
    [TCPW_FATE_DROPPED] = {" — lost in the network", "——该报文在网络中丢失"},
    [TCPW_FATE_DUPLICATED] = {" — the network delivers it twice", "——网络重复投递了该报文"},
    [TCPW_FATE_REORDERED] = {" — it arrives out of order", "——该报文乱序到达"},
};

static const text2 injected_seg = {
    "this segment is put into the network by the scenario, not sent by {who}'s TCP: it stands "
    "for an old duplicate or a forged segment, to show how {peer} treats it (RFC 9293 §3.4, "
    "§3.10.7)",
    "该报文由场景注入网络，并非{who}的 TCP 发送：它代表旧的重复报文或伪造的报文，用来展示{peer}"
    "如何处理它（RFC 9293 §3.4、§3.10.7）"};

static void explain_segment(sbuf *b, const env *v) {
    const view_step *s = &v->c->step[v->i];
    const view_conn *k = &v->c->conns[s->conn];
    bool fin3 = s->role == VIEW_ROLE_WAVE3 || s->role == VIEW_ROLE_WAVE23;
    if (s->injected) {
        expand2(b, v, &injected_seg);
    } else if (s->retrans && fin3 && s->st[v->e->side] == TCPW_LAST_ACK) {
        expand2(b, v, &last_ack_retrans);
    } else {
        if (s->retrans) expand2(b, v, &retrans_prefix);
        if (s->role == VIEW_ROLE_WAVE3 && k->simultaneous)
            expand2(b, v, &crossing_fin);
        else if (s->role == VIEW_ROLE_WAVE2 && k->simultaneous)
            expand2(b, v, &crossing_ack);
        else if (s->role == VIEW_ROLE_WAVE4 && s->repeat)
            expand2(b, v, &repeated_wave4);
        else
            expand2(b, v, &role_text[s->role]);
    }
    if ((unsigned)v->e->fate < sizeof fate_suffix / sizeof fate_suffix[0])
        expand2(b, v, &fate_suffix[v->e->fate]);
}

/* ---- what applications saw ------------------------------------------------------------------ */

static const text2 app_text[] = {
    [TCPW_APP_DATA] = {"{who}'s application reads {bytes} bytes",
                       "{who}的应用读到 {bytes} 字节数据"},
    [TCPW_APP_EOF] = {"{who}'s application reads end-of-file (recv() returns 0): {peer} has "
                      "closed its sending direction; {who} may still send (half-close, "
                      "RFC 9293 §3.6.1)",
                      "{who}的应用读到 EOF（recv() 返回 0）：{peer}已关闭发送方向，{who}仍可发送"
                      "数据（半关闭，RFC 9293 §3.6.1）"},
    [TCPW_APP_RESET] = {"{who}'s application is told 'connection reset' (ECONNRESET) "
                        "(RFC 9293 §3.10.7.4)",
                        "{who}的应用收到“连接被重置”（ECONNRESET）（RFC 9293 §3.10.7.4）"},
    [TCPW_APP_CLOSED] = {"for {who}'s application the connection is over",
                         "对{who}的应用来说，连接已经结束"},
    [TCPW_APP_REFUSED] = {"{who}'s application is told 'connection refused' (ECONNREFUSED) "
                          "(RFC 9293 §3.10.7.3)",
                          "{who}的应用收到“连接被拒绝”（ECONNREFUSED）（RFC 9293 §3.10.7.3）"},
    [TCPW_APP_TIMEOUT] = {"{who}'s application is told 'connection timed out' (ETIMEDOUT): "
                          "retransmissions are exhausted (RFC 9293 §3.8.3)",
                          "{who}的应用收到“连接超时”（ETIMEDOUT）：重传次数用尽"
                          "（RFC 9293 §3.8.3）"},
    [TCPW_APP_CONNECTED] = {"{who}'s application sees the connection open (connect() or "
                            "accept() returns)",
                            "{who}的应用看到连接已建立（connect() 或 accept() 返回）"},
};

static void explain_app(sbuf *b, const env *v) {
    if ((unsigned)v->e->app < sizeof app_text / sizeof app_text[0])
        expand2(b, v, &app_text[v->e->app]);
}

/* ---- notes ---------------------------------------------------------------------------------- */

typedef struct note_rule {
    const char *key; /* the note contains this (lower case) */
    int state;       /* ... and its side is in this state (ANY: whatever) */
    text2 text;
} note_rule;

static const note_rule note_rules[] = {
    {"exhausted",
     ANY,
     {"{who} has retransmitted too often without an answer and gives up (RFC 9293 §3.8.3, "
      "RFC 1122 §4.2.3.5)",
      "{who}重传次数用尽仍没有应答，放弃连接（RFC 9293 §3.8.3、RFC 1122 §4.2.3.5）"}},
    {"retransmi",
     S(LAST_ACK),
     {"retransmission timeout in LAST_ACK: the last ACK has not come, so {who} sends its FIN "
      "again (RFC 9293 §3.10.7.4, RFC 6298)",
      "LAST_ACK 状态超时：最后的 ACK 没有到达，{who}重发 FIN（RFC 9293 §3.10.7.4、RFC 6298）"}},
    {"retransmi",
     ANY,
     {"retransmission timeout: nothing acknowledged the data within the RTO, so {who} sends it "
      "again and doubles the RTO (RFC 6298 §5, RFC 9293 §3.8.1)",
      "超时重传：在 RTO 内没有收到确认，{who}重发报文，并把 RTO 加倍（RFC 6298 §5、"
      "RFC 9293 §3.8.1）"}},
    {"challenge",
     ANY,
     {"challenge ACK: a RST or SYN whose sequence number is in the window but not exactly the "
      "expected one could be forged, so {who} answers with an ACK instead of obeying it; only "
      "a peer that really sees the connection can then reset it (RFC 5961 §3.2, §4.2)",
      "挑战 ACK：序号落在窗口内但不是恰好期望值的 RST 或 SYN 可能是伪造的，{who}不执行它，而是"
      "回复一个 ACK；只有真正看得到这个连接的对端才能再发出正确的 RST（RFC 5961 §3.2、§4.2）"}},
    {"1337",
     ANY,
     {"{who} ignores a RST in TIME_WAIT: accepting it would end TIME_WAIT early "
      "(TIME-WAIT assassination) and let old segments into a new connection (RFC 1337)",
      "{who}在 TIME_WAIT 状态忽略 RST：若接受它，TIME_WAIT 会被提前结束（TIME_WAIT 被“暗杀”），"
      "旧报文可能混入新连接（RFC 1337）"}},
    {"rst",
     S(TIME_WAIT),
     {"{who} ignores a RST in TIME_WAIT: accepting it would end TIME_WAIT early "
      "(TIME-WAIT assassination) and let old segments into a new connection (RFC 1337)",
      "{who}在 TIME_WAIT 状态忽略 RST：若接受它，TIME_WAIT 会被提前结束（TIME_WAIT 被“暗杀”），"
      "旧报文可能混入新连接（RFC 1337）"}},
    {"6191",
     ANY,
     {"a SYN may reopen a connection in TIME_WAIT when its sequence number or timestamp is "
      "higher than the old connection's (RFC 6191, RFC 9293 §3.6.1)",
      "序号或时间戳大于旧连接的 SYN 可以在 TIME_WAIT 状态重新打开连接（RFC 6191、"
      "RFC 9293 §3.6.1）"}},
    {"reopen",
     ANY,
     {"a SYN may reopen a connection in TIME_WAIT when its sequence number or timestamp is "
      "higher than the old connection's (RFC 6191, RFC 9293 §3.6.1)",
      "序号或时间戳大于旧连接的 SYN 可以在 TIME_WAIT 状态重新打开连接（RFC 6191、"
      "RFC 9293 §3.6.1）"}},
    {"unread",
     ANY,
     {"closing with unread received data resets the connection instead of closing it "
      "gracefully, so that the peer learns data was lost (RFC 2525 §2.17)",
      "关闭时还有未读取的数据：用 RST 代替正常关闭，让对端知道数据丢失（RFC 2525 §2.17）"}},
    {"2525",
     ANY,
     {"closing with unread received data resets the connection instead of closing it "
      "gracefully, so that the peer learns data was lost (RFC 2525 §2.17)",
      "关闭时还有未读取的数据：用 RST 代替正常关闭，让对端知道数据丢失（RFC 2525 §2.17）"}},
    {"paws",
     ANY,
     {"PAWS: the segment's timestamp is older than the last one seen, so it is an old "
      "duplicate and is dropped (RFC 7323 §5)",
      "PAWS：报文的时间戳比最近见到的更旧，是旧的重复报文，丢弃（RFC 7323 §5）"}},
    {"zero-window",
     ANY,
     {"the peer's window is zero: {who} probes it now and then so that a lost window update "
      "cannot stall the connection forever (RFC 9293 §3.8.6.1)",
      "对端窗口为零：{who}定期发送探测报文，防止窗口更新丢失导致连接永远停滞"
      "（RFC 9293 §3.8.6.1）"}},
    {"keepalive",
     ANY,
     {"keep-alive: after a long idle time {who} checks that the peer is still there (RFC 1122 "
      "§4.2.3.6)",
      "保活：空闲很久之后，{who}探测对端是否还在（RFC 1122 §4.2.3.6）"}},
    {"unacceptable",
     ANY,
     {"the segment is outside the receive window: {who} drops it and answers with an ACK that "
      "tells where it stands (RFC 9293 §3.10.7.4, first check)",
      "报文不在接收窗口内：{who}丢弃它，并回复一个 ACK 说明自己期望的序号（RFC 9293 "
      "§3.10.7.4）"}},
    {"out of window",
     ANY,
     {"the segment is outside the receive window: {who} drops it and answers with an ACK that "
      "tells where it stands (RFC 9293 §3.10.7.4, first check)",
      "报文不在接收窗口内：{who}丢弃它，并回复一个 ACK 说明自己期望的序号（RFC 9293 "
      "§3.10.7.4）"}},
};

static void explain_note(sbuf *b, const env *v) {
    char text[sizeof v->e->what + 1];
    view_what(v->e, text, sizeof text);
    for (char *p = text; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    int st = v->c->step[v->i].st[v->e->side];
    for (size_t k = 0; k < sizeof note_rules / sizeof note_rules[0]; k++) {
        const note_rule *rule = &note_rules[k];
        if (strstr(text, rule->key) && (rule->state == ANY || rule->state == st)) {
            expand2(b, v, &rule->text);
            return;
        }
    }
}

size_t view_explain(const view_ctx *c, size_t i, char *buf, size_t cap) {
    sbuf b = {buf, cap, 0};
    if (cap == 0) return 0;
    buf[0] = '\0';
    if (!view_event_ok(c, i)) return 0;
    env v = {c, i, &c->r->ev[i]};
    switch (v.e->kind) {
    case TCPW_REC_STATE: explain_state(&b, &v); break;
    case TCPW_REC_SEG: explain_segment(&b, &v); break;
    case TCPW_REC_APP: explain_app(&b, &v); break;
    case TCPW_REC_NOTE: explain_note(&b, &v); break;
    }
    return b.len;
}

"""Rule-based ticket-booking assistant for the fictional "Parque Vale das Araucárias".

Each message is scanned for every slot it may contain (date, party, product, personal data...),
informational questions are answered, and the reply ends by asking for the next missing item.
The assistant is deterministic and thread-safe; it has no web or network dependencies.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date, timedelta

from convoload_demo.tickets import intents
from convoload_demo.tickets.catalog import (
    CABIN_PER_NIGHT,
    DEFAULT_CLOSED_DATES,
    PRICES,
    PRODUCT_ARVORAR,
    PRODUCT_PARK,
    ZIPLINE_PER_PERSON,
    ddmm,
    ddmmyyyy,
    money,
)
from convoload_demo.tickets.dates import DateMention, bare_month, find_date, next_open, period_days
from convoload_demo.tickets.messages import MONTH_NAMES, join_list, t
from convoload_demo.tickets.order import Order, order_id, payment_url
from convoload_demo.tickets.personal import PersonalData, extract_personal, format_cpf, format_phone
from convoload_demo.tickets.text import has_phrase, normalize

AGENT_SERVICE = "atendimento"
AGENT_SALES = "vendas"
AGENT_PAYMENT = "pagamento"

_NEW_ORDER = ("novo pedido", "nova compra", "outro pedido", "new order", "another order")


@dataclass
class AssistantReply:
    """Messages to send back (in order), the agent that "wrote" them and whether the order is done."""

    messages: list[str]
    agent: str
    done: bool

    @property
    def text(self) -> str:
        return "\n\n".join(self.messages)


@dataclass
class _Session:
    lang: str = "pt"
    greeted: bool = False
    deferred: list[str] = field(default_factory=list)  # slots given before the opt-in answer
    optin: bool | None = None
    purchase: bool = False
    order: Order = field(default_factory=Order)
    proposed: date | None = None  # open alternative to a closed date, waiting for a yes
    offered: list[date] = field(default_factory=list)  # open dates listed for a week/month
    period_label: str = ""
    month_ctx: tuple[int, int] | None = None
    pending_day: int | None = None  # "dia 21" given without a month
    upsell_offered: bool = False
    upsell_done: bool = False
    name: str | None = None
    cpf: str | None = None
    phone: str | None = None
    email: str | None = None
    method: str | None = None
    done: bool = False
    order_id: str | None = None
    url: str | None = None
    awaiting: str = "optin"


@dataclass
class _Turn:
    out: list[str] = field(default_factory=list)
    blocking: bool = False  # a question was already asked, do not append the next prompt
    understood: bool = False
    answered_info: bool = False


class TicketAssistant:
    """Conversation state machine; one state per session id, safe to call from many threads."""

    def __init__(self, closed_dates: set[date] | None = None, season_year: int = 2026) -> None:
        if closed_dates is None:
            self._closed: dict[date, str | None] = dict(DEFAULT_CLOSED_DATES)
        else:
            self._closed = {d: DEFAULT_CLOSED_DATES.get(d) for d in closed_dates}
        self.season_year = season_year
        self._sessions: dict[str, _Session] = {}
        self._order_seq: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def session_count(self) -> int:
        with self._lock:
            return len(self._sessions)

    def reset(self, session_id: str) -> None:
        """Forget a conversation (order sequence numbers are kept so ids never repeat)."""
        with self._lock:
            self._sessions.pop(session_id, None)

    def reply(self, session_id: str, text: str) -> AssistantReply:
        """Process one user message and return the assistant's answer."""
        with self._lock:
            st = self._sessions.setdefault(session_id, _Session())
            return self._handle(session_id, st, text)

    # -- conversation driver -------------------------------------------------------------------------

    def _handle(self, session_id: str, st: _Session, text: str) -> AssistantReply:
        norm = normalize(text)
        if not st.greeted:
            return self._greet(st, text, norm)
        turn = _Turn()
        lang = st.lang
        if st.done:
            if not has_phrase(norm, *_NEW_ORDER):
                return self._after_done(st, norm)
            self._start_new_order(st)
            turn.out.append(t(lang, "new_order"))
            turn.understood = True

        context = st.awaiting
        if context == "optin" and st.optin is None:
            answer = intents.yes_no(norm, lang)
            if answer is None:
                return self._optin_pending(st, text, norm)
            st.optin = answer
            turn.out.append(t(lang, "optin_yes" if answer else "optin_no"))
            turn.understood = True
            for earlier in st.deferred:
                self._apply(st, earlier, normalize(earlier), turn, context=None, answer_info=False)
            st.deferred.clear()
            context = None  # "sim" answered the opt-in; it must not also accept something else
        self._apply(st, text, norm, turn, context=context, answer_info=True)
        return self._finish(session_id, st, turn)

    def _greet(self, st: _Session, text: str, norm: str) -> AssistantReply:
        st.greeted = True
        st.lang = intents.detect_language(norm)
        out = [t(st.lang, "greeting")]
        no_date = find_date(norm, self.season_year) is None
        out += self._info_answers(st, norm, intents.info_topics(norm), with_dates=no_date)
        # Purchase details in the first message are kept until the opt-in question is answered.
        st.deferred.append(text)
        out.append(t(st.lang, "optin"))
        st.awaiting = "optin"
        return AssistantReply(out, AGENT_SERVICE, False)

    def _optin_pending(self, st: _Session, text: str, norm: str) -> AssistantReply:
        topics = intents.info_topics(norm)
        out = self._info_answers(st, norm, topics, with_dates=find_date(norm, self.season_year) is None)
        st.deferred.append(text)
        if not out and not self._has_slots(st, norm):
            out.append(t(st.lang, "not_understood"))
        out.append(t(st.lang, "optin_again"))
        return AssistantReply(out, AGENT_SERVICE, False)

    def _after_done(self, st: _Session, norm: str) -> AssistantReply:
        out = self._info_answers(st, norm, intents.info_topics(norm), with_dates=True)
        if intents.is_thanks(norm):
            out.append(t(st.lang, "thanks"))
        out.append(t(st.lang, "done", order=st.order_id, url=st.url))
        return AssistantReply(out, AGENT_PAYMENT, True)

    def _start_new_order(self, st: _Session) -> None:
        st.order = Order()
        st.purchase = True
        st.proposed, st.offered, st.method = None, [], None
        st.upsell_offered = st.upsell_done = st.done = False
        st.order_id = st.url = None

    def _has_slots(self, st: _Session, norm: str) -> bool:
        return bool(
            find_date(norm, self.season_year)
            or intents.quantities(norm, st.lang)[0]
            or intents.wants_tickets(norm)
            or intents.product_choice(norm)
        )

    # -- slot extraction -------------------------------------------------------------------------------

    def _apply(
        self, st: _Session, raw: str, norm: str, turn: _Turn, *, context: str | None, answer_info: bool
    ) -> None:
        lang = st.lang
        topics = intents.info_topics(norm)
        mention = find_date(norm, self.season_year)
        personal = extract_personal(raw, look_for_bare_name=context == "data" or st.upsell_done)
        if personal.found_any and mention is not None and st.order.day is not None:
            mention = None  # digits inside personal data are not a request to change the date
        if context in ("date", "date_pick", "date_offer") and (mention is None or mention.kind == "month"):
            mention = bare_month(norm, self.season_year) or mention
        if mention is not None and mention.kind == "month" and st.pending_day is not None:
            assert mention.year is not None and mention.month is not None
            try:
                mention = DateMention("exact", day=date(mention.year, mention.month, st.pending_day))
            except ValueError:
                mention = DateMention("invalid")

        if answer_info:
            infos = self._info_answers(st, norm, [tp for tp in topics if tp != "availability"], True)
            turn.out += infos
            turn.answered_info = turn.answered_info or bool(infos)
            turn.understood = turn.understood or bool(infos)

        product = intents.product_choice(norm)
        if product is not None:
            st.order.product = product
            turn.understood = True
            if product == PRODUCT_ARVORAR and not {"attractions", "prices"} & set(topics):
                st.purchase = True
        if intents.wants_tickets(norm):
            st.purchase = turn.understood = True

        if context == "date_offer" and mention is None and st.proposed is not None:
            self._answer_offer(st, norm, turn)
        elif (
            context == "date_pick" and mention is None and len(st.offered) == 1 and intents.yes_no(norm, lang)
        ):
            self._set_date(st, st.offered[0], turn)

        if mention is not None:
            st.purchase = turn.understood = True
            self._apply_date(st, mention, turn)
        elif "availability" in topics:
            st.purchase = turn.understood = True
            if answer_info:
                turn.out.append(self._availability_text(st))
                turn.answered_info = True

        counts, headcount_only = intents.quantities(norm, lang)
        if counts:
            st.order.quantities = counts
            st.purchase = turn.understood = True
            if headcount_only:
                turn.out.append(t(lang, "headcount_note"))

        if context == "upsell":
            self._answer_upsell(st, norm, turn, explicit_only=False)
        elif not st.upsell_done and st.purchase and "?" not in raw:
            self._answer_upsell(st, norm, turn, explicit_only=True)  # "... só os ingressos" up front

        self._apply_personal(st, personal, turn)

        method = intents.payment_method(norm)
        if method and (context == "payment" or "?" not in raw):
            st.method = method
            turn.understood = True

        if intents.is_greeting(norm) or intents.yes_no(norm, lang) is not None:
            turn.understood = True
        if intents.is_thanks(norm):
            turn.understood = True
            if not turn.out:
                turn.out.append(t(lang, "thanks"))

    def _answer_offer(self, st: _Session, norm: str, turn: _Turn) -> None:
        answer = intents.yes_no(norm, st.lang)
        if answer is True and st.proposed is not None:
            turn.understood = True
            self._set_date(st, st.proposed, turn)
        elif answer is False:
            turn.understood = turn.blocking = True
            st.proposed = None
            st.awaiting = "date"
            turn.out.append(t(st.lang, "offer_refused"))

    def _apply_date(self, st: _Session, mention: DateMention, turn: _Turn) -> None:
        lang = st.lang
        if mention.kind == "exact" and mention.day is not None:
            self._set_date(st, mention.day, turn)
        elif mention.kind == "day" and mention.day_of_month is not None:
            ctx = self._month_context(st)
            if ctx is None:
                st.pending_day = mention.day_of_month
                turn.out.append(t(lang, "which_month", day=mention.day_of_month))
                turn.blocking = True
                st.awaiting = "date"
                return
            try:
                day = date(ctx[0], ctx[1], mention.day_of_month)
            except ValueError:
                self._invalid_date(st, turn)
                return
            self._set_date(st, day, turn)
        elif mention.kind in ("week", "month"):
            self._offer_period(st, mention, turn)
        else:
            self._invalid_date(st, turn)

    def _invalid_date(self, st: _Session, turn: _Turn) -> None:
        turn.out.append(t(st.lang, "invalid_date"))
        turn.blocking = True
        st.awaiting = "date"

    def _month_context(self, st: _Session) -> tuple[int, int] | None:
        for day in (*st.offered[:1], st.proposed, st.order.day):
            if day is not None:
                return (day.year, day.month)
        return st.month_ctx

    def _set_date(self, st: _Session, day: date, turn: _Turn) -> None:
        st.month_ctx = (day.year, day.month)
        st.offered, st.pending_day = [], None
        if day in self._closed:
            nxt = next_open(day + timedelta(days=1), self._closed)
            reason = self._closed[day]
            reason_text = t(st.lang, f"reason_{reason}") if reason else ""
            st.order.day, st.proposed = None, nxt
            turn.out.append(t(st.lang, "closed", date=ddmm(day), next=ddmm(nxt), reason=reason_text))
            turn.blocking = True
            st.awaiting = "date_offer"
            return
        changed = st.order.day != day
        st.order.day, st.proposed = day, None
        if changed:
            turn.out.append(t(st.lang, "date_ok", date=ddmmyyyy(day)))

    def _offer_period(self, st: _Session, mention: DateMention, turn: _Turn) -> None:
        assert mention.month is not None and mention.year is not None
        lang = st.lang
        month = MONTH_NAMES[lang][mention.month - 1]
        key = "month" if mention.kind == "month" else f"week_{mention.week}"
        st.period_label = t(lang, key, month=month)
        st.month_ctx = (mention.year, mention.month)
        st.offered = [d for d in period_days(mention) if d not in self._closed]
        st.proposed = None
        turn.blocking = True
        if st.offered:
            turn.out.append(self._period_text(st))
            st.awaiting = "date_pick"
        else:
            label = st.period_label[0].lower() + st.period_label[1:]
            turn.out.append(t(lang, "period_full", period=label))
            st.awaiting = "date"

    def _period_text(self, st: _Session) -> str:
        dates = join_list([ddmm(d) for d in st.offered], st.lang)
        return t(st.lang, "period", period=st.period_label, dates=dates)

    def _answer_upsell(self, st: _Session, norm: str, turn: _Turn, *, explicit_only: bool) -> None:
        choice = intents.upsell_choice(norm, st.lang, explicit_only=explicit_only)
        if choice is None:
            return
        cabin, zipline = choice
        order = st.order
        order.cabin_nights = (intents.nights(norm) or 1) if cabin else 0
        order.zipline = zipline
        order.zipline_people = intents.zipline_people(norm) if zipline else None
        st.upsell_done = turn.understood = True
        if not (cabin or zipline):
            turn.out.append(t(st.lang, "upsell_refused"))
            return
        items = [line.label for line in order.extra_lines(st.lang)]
        if not items:  # party size still unknown: name the add-on without a count
            items = [t(st.lang, "zipline_name")]
        turn.out.append(t(st.lang, "upsell_added", items=join_list(items, st.lang)))

    def _apply_personal(self, st: _Session, personal: PersonalData, turn: _Turn) -> None:
        lang = st.lang
        if not personal.found_any:
            return
        turn.understood = True
        if personal.name:
            st.name = personal.name
        if personal.email:
            st.email = personal.email
        elif personal.email_invalid and st.email is None:
            turn.out.append(t(lang, "email_invalid"))
        if personal.phone:
            st.phone = personal.phone
        elif personal.phone_invalid and st.phone is None:
            turn.out.append(t(lang, "phone_invalid", phone=personal.phone_invalid))
        if personal.cpf:
            st.cpf = personal.cpf
        elif personal.cpf_invalid:
            digits = "".join(ch for ch in personal.cpf_invalid if ch.isdigit())
            shown = format_cpf(digits) if len(digits) == 11 else personal.cpf_invalid
            st.cpf = None
            turn.out.append(t(lang, "cpf_invalid", cpf=shown))

    # -- answers and prompts ---------------------------------------------------------------------------

    def _info_answers(self, st: _Session, norm: str, topics: list[str], with_dates: bool) -> list[str]:
        lang = st.lang
        out: list[str] = []
        for topic in topics:
            if topic == "prices":
                park, arv = PRICES[PRODUCT_PARK], PRICES[PRODUCT_ARVORAR]
                out.append(
                    t(
                        lang,
                        "prices",
                        park_adult=money(park["adulto"], lang),
                        park_reduced=money(park["crianca"], lang),
                        arv_adult=money(arv["adulto"], lang),
                        arv_reduced=money(arv["crianca"], lang),
                        cabin=money(CABIN_PER_NIGHT, lang),
                        zipline=money(ZIPLINE_PER_PERSON, lang),
                    )
                )
            elif topic == "availability":
                if with_dates:
                    out.append(self._availability_text(st))
            else:
                out.append(t(lang, topic))
        return out

    def _availability_text(self, st: _Session) -> str:
        if st.order.day is not None:
            return t(st.lang, "date_kept", date=ddmm(st.order.day))
        if not self._closed:
            return t(st.lang, "hours")
        closed = join_list([ddmm(d) for d in sorted(self._closed)], st.lang)
        return t(st.lang, "availability_generic", closed=closed)

    def _finish(self, session_id: str, st: _Session, turn: _Turn) -> AssistantReply:
        lang = st.lang
        if turn.blocking:
            return AssistantReply(turn.out, AGENT_SALES, False)
        prompt, agent = self._next_prompt(session_id, st, turn)
        out = turn.out
        if not turn.understood:
            out.append(t(lang, "not_understood"))
        out += prompt
        return AssistantReply(out, agent, st.done)

    def _next_prompt(self, session_id: str, st: _Session, turn: _Turn) -> tuple[list[str], str]:
        lang, order = st.lang, st.order
        if not st.purchase:
            st.awaiting = "idle"
            return [t(lang, "anything_else" if turn.answered_info else "how_can_i_help")], AGENT_SERVICE
        if order.day is None:
            if st.proposed is not None:
                st.awaiting = "date_offer"
                return [t(lang, "offer_again", next=ddmm(st.proposed))], AGENT_SALES
            if st.offered:
                st.awaiting = "date_pick"
                return [self._period_text(st)], AGENT_SALES
            st.awaiting = "date"
            return [t(lang, "ask_date")], AGENT_SALES
        if not order.quantities:
            st.awaiting = "quantities"
            return [t(lang, "ask_quantities")], AGENT_SALES
        if not st.upsell_done:
            st.awaiting = "upsell"
            if st.upsell_offered and not turn.understood:
                return [t(lang, "upsell_again")], AGENT_SALES
            st.upsell_offered = True
            return [self._subtotal_text(st), self._upsell_text(lang)], AGENT_SALES
        missing = self._missing_fields(st)
        if missing:
            st.awaiting = "data"
            if len(missing) == 4:
                return [t(lang, "ask_data")], AGENT_SALES
            fields = join_list([t(lang, f"field_{f}") for f in missing], lang)
            return [t(lang, "ask_missing", fields=fields)], AGENT_SALES
        if st.method is None:
            st.awaiting = "payment"
            first = (st.name or "").split()[0] if st.name else ""
            key = "ask_payment" if first else "ask_payment_short"
            return [t(lang, key, first_name=first)], AGENT_PAYMENT
        return self._checkout(session_id, st), AGENT_PAYMENT

    def _missing_fields(self, st: _Session) -> list[str]:
        values = {"name": st.name, "cpf": st.cpf, "phone": st.phone, "email": st.email}
        return [key for key, value in values.items() if not value]

    def _subtotal_text(self, st: _Session) -> str:
        lang, order = st.lang, st.order
        assert order.day is not None
        product = t(lang, f"product_{order.product}")
        lines = [t(lang, "subtotal_header", product=product, date=ddmmyyyy(order.day))]
        for line in order.ticket_lines(lang):
            lines.append(
                f"• {line.quantity} × {line.label} ({money(line.unit, lang)}) = {money(line.total, lang)}"
            )
        lines.append(t(lang, "subtotal", value=money(order.subtotal(lang), lang)))
        return "\n".join(lines)

    def _upsell_text(self, lang: str) -> str:
        return t(lang, "upsell", cabin=money(CABIN_PER_NIGHT, lang), zipline=money(ZIPLINE_PER_PERSON, lang))

    def _checkout(self, session_id: str, st: _Session) -> list[str]:
        lang, order = st.lang, st.order
        assert order.day is not None and st.method is not None
        seq = self._order_seq.get(session_id, 0) + 1
        self._order_seq[session_id] = seq
        st.order_id = order_id(session_id, seq)
        st.url = payment_url(st.method, st.order_id)
        st.done = True
        st.awaiting = "done"
        method = t(lang, "method_pix" if st.method == "pix" else "method_card")
        lines = [
            t(lang, "summary_header", order=st.order_id),
            t(lang, "summary_product", product=t(lang, f"product_{order.product}")),
            t(lang, "summary_date", date=ddmmyyyy(order.day)),
        ]
        for line in order.ticket_lines(lang):
            lines.append(
                f"• {line.quantity} × {line.label} ({money(line.unit, lang)}) = {money(line.total, lang)}"
            )
        for line in order.extra_lines(lang):
            lines.append(f"• {line.label} = {money(line.total, lang)}")
        lines.append(t(lang, "summary_total", value=money(order.total(lang), lang)))
        lines.append(t(lang, "summary_method", method=method))
        customer = f"{st.name} · CPF {format_cpf(st.cpf or '')} · {format_phone(st.phone or '')} · {st.email}"
        lines.append(customer)
        return ["\n".join(lines), t(lang, "link", method=method, url=st.url)]

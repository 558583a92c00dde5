// Reading an RFC 1035 master file. We split the file into entries ourselves (parentheses,
// quotes, comments, directives, $INCLUDE) because ldns 1.8 skips $INCLUDE and reports only
// the line an entry ends on. The common record types are then parsed straight into the
// zone's storage (rdata_text.hpp says why); ldns parses every other entry, which is what it
// does well: every record type, RFC 3597 generic data, every mnemonic.
#include "zones/zone_loader.hpp"

#include "zones/ldns.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>

#include "wire/constants.hpp"
#include "wire/name.hpp"
#include "zones/rdata_text.hpp"

namespace meridian::zones {

namespace {

constexpr int kMaxIncludeDepth = 10;
// Bounds the total work of $INCLUDEs that fan out without a cycle (4 includes a level, 10
// levels deep would be a million reads).
constexpr size_t kMaxIncludedFiles = 1024;
constexpr uint32_t kMaxTtl = 0x7FFFFFFF;  // RFC 2181 §8

// Streams the entries of master-file text (RFC 1035 §5.1): one record or directive at a
// time, parentheses and comments removed, with the line it starts on. One entry's text is
// reused for the next, so reading allocates nothing per record.
class EntryReader {
  public:
    explicit EntryReader(std::string_view content) : content_(content) {}

    // The next entry into `text`, its first line into `line`; false at the end or on an
    // error (unbalanced parentheses, an unterminated quote: see error(), error_line()).
    bool next(std::string& text, int& line);
    const std::string& error() const { return error_; }
    int error_line() const { return error_line_; }

  private:
    bool fail(int line, std::string message) {
        error_line_ = line;
        error_ = std::move(message);
        return false;
    }
    std::string_view content_;
    size_t i_ = 0;
    int line_ = 1;
    int error_line_ = 0;
    std::string error_;
};

bool EntryReader::next(std::string& text, int& line) {
    text.clear();
    line = line_;
    int depth = 0;
    int depth_line = 0;
    bool in_quotes = false;
    int quote_line = 0;
    const auto is_entry = [&] { return text.find_first_not_of(" \t\r") != std::string::npos; };
    for (; i_ < content_.size(); ++i_) {
        const char c = content_[i_];
        if (c == '\\' && i_ + 1 < content_.size()) {
            text += c;
            text += content_[++i_];
            if (content_[i_] == '\n') ++line_;
            continue;
        }
        if (in_quotes) {
            if (c == '"') in_quotes = false;
            if (c == '\n') return fail(quote_line, "unterminated quoted string");
            text += c;
            continue;
        }
        switch (c) {
            case '"':
                in_quotes = true;
                quote_line = line_;
                text += c;
                break;
            case ';':
                while (i_ + 1 < content_.size() && content_[i_ + 1] != '\n') ++i_;
                break;
            case '(':
                if (depth++ == 0) depth_line = line_;
                text += ' ';
                break;
            case ')':
                if (--depth < 0) return fail(line_, "')' without '('");
                text += ' ';
                break;
            case '\n':
                ++line_;
                if (depth == 0) {
                    if (is_entry()) {
                        ++i_;
                        return true;
                    }
                    text.clear();
                    line = line_;
                } else {
                    text += ' ';
                }
                break;
            default:
                text += c;
        }
    }
    if (in_quotes) return fail(quote_line, "unterminated quoted string");
    if (depth != 0) return fail(depth_line, "'(' is never closed");
    return is_entry();
}

using RdfPtr = ldns::Rdf;

std::string lowercase(std::string_view name) {
    std::string lower(name);
    wire::to_lower({reinterpret_cast<const uint8_t*>(lower.data()), lower.size()},
                   reinterpret_cast<uint8_t*>(lower.data()));
    return lower;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool is_forbidden_in_zone(uint16_t type) {
    return type == wire::type::kOPT || type == wire::type::kTSIG || type == wire::type::kAXFR ||
           type == wire::type::kIXFR || type == wire::type::kANY;
}

// Reads master files into a ZoneBuilder. The common record types go through the direct
// parser (rdata_text.hpp); every entry it does not cover goes to ldns whole, as text.
class MasterFileReader {
  public:
    MasterFileReader(Diagnostics& diagnostics, ZoneBuilder& builder, RecordParsing parsing)
        : diagnostics_(diagnostics), builder_(builder), parsing_(parsing) {
        buffer_.reset(ldns_buffer_new(4096));
    }

    // Reads `file` with the given starting origin (wire form, may be empty).
    void read(const std::filesystem::path& file, std::string origin, int depth);

    std::vector<std::string> sources;  // file names, indexed by the builder's source numbers
    std::string first_origin;          // first $ORIGIN seen, lowercase wire form
    std::string first_soa_owner;       // lowercase wire form

  private:
    std::vector<std::filesystem::path> reading_;  // the $INCLUDE chain being read, canonical
    size_t included_files_ = 0;
    void error(uint16_t source, int line, std::string message) {
        diagnostics_.push_back({sources[source], line, std::move(message), true});
    }
    void read_directive(const std::string& entry, const std::filesystem::path& file,
                        uint16_t source, int line, std::string& origin, int depth);
    // The direct path; false when the entry is for ldns.
    bool read_record_directly(uint16_t source, int line, const std::string& origin);
    void read_record_with_ldns(uint16_t source, int line, const std::string& origin);
    void add(uint16_t source, int line, uint16_t type, uint32_t ttl, std::string_view rdata);

    Diagnostics& diagnostics_;
    ZoneBuilder& builder_;
    RecordParsing parsing_;
    ldns::Buffer buffer_;
    uint32_t default_ttl_ = 3600;
    std::string previous_owner_;  // wire form, case as written
    // Reused from one entry to the next.
    std::string text_;
    std::string owner_;
    std::string rdata_;
    std::string rdata_error_;
    Token tokens_[512];
};

std::string first_word(const std::string& text, size_t& pos) {
    const size_t start = text.find_first_not_of(" \t\r", pos);
    if (start == std::string::npos) {
        pos = text.size();
        return {};
    }
    const size_t end = text.find_first_of(" \t\r", start);
    pos = end == std::string::npos ? text.size() : end;
    return text.substr(start, pos - start);
}

void MasterFileReader::read(const std::filesystem::path& file, std::string origin, int depth) {
    sources.push_back(file.string());
    const auto source = sources.size() == 1 ? uint16_t(0) : builder_.add_source(file.string());
    std::error_code ec;
    if (std::filesystem::is_directory(file, ec)) {
        error(source, 0, file.string() + " is a folder, not a file");
        return;
    }
    std::ifstream in(file, std::ios::binary);
    if (!in) {
        error(source, 0, "cannot open: " + std::string(std::strerror(errno)));
        return;
    }
    std::string content;
    in.seekg(0, std::ios::end);
    const auto size = in.tellg();
    in.seekg(0, std::ios::beg);
    if (size > 0) {
        content.resize(static_cast<size_t>(size));
        in.read(content.data(), size);
        content.resize(static_cast<size_t>(in.gcount()));
    }

    reading_.push_back(std::filesystem::weakly_canonical(file, ec));
    EntryReader entries(content);
    int line = 0;
    std::string entry;
    while (entries.next(entry, line)) {
        if (entry[0] == '$') {
            read_directive(entry, file, source, line, origin, depth);
            continue;
        }
        text_.swap(entry);
        if (parsing_ == RecordParsing::ldns_only || !read_record_directly(source, line, origin))
            read_record_with_ldns(source, line, origin);
        text_.swap(entry);
    }
    if (!entries.error().empty()) error(source, entries.error_line(), entries.error());
    reading_.pop_back();
}

void MasterFileReader::read_directive(const std::string& entry, const std::filesystem::path& file,
                                      uint16_t source, int line, std::string& origin, int depth) {
    size_t pos = 0;
    const std::string directive = first_word(entry, pos);
    const std::string argument = first_word(entry, pos);
    if (directive == "$ORIGIN") {
        std::string name;
        if (argument.empty() || !append_name(argument, origin, name)) {
            error(source, line, "bad $ORIGIN '" + argument + "'");
            return;
        }
        origin = std::move(name);
        if (first_origin.empty()) first_origin = lowercase(origin);
    } else if (directive == "$TTL") {
        const char* end = nullptr;
        const uint32_t ttl = ldns_str2period(argument.c_str(), &end);
        if (argument.empty() || (end && *end != '\0') || ttl > kMaxTtl) {
            error(source, line, "bad $TTL '" + argument + "'");
            return;
        }
        default_ttl_ = ttl;
    } else if (directive == "$INCLUDE") {
        if (argument.empty()) {
            error(source, line, "$INCLUDE needs a file name");
            return;
        }
        if (depth >= kMaxIncludeDepth) {
            error(source, line,
                  "$INCLUDE nested more than " + std::to_string(kMaxIncludeDepth) + " deep");
            return;
        }
        std::filesystem::path included(argument);
        if (included.is_relative()) included = file.parent_path() / included;
        std::string include_origin = origin;
        const std::string origin_argument = first_word(entry, pos);
        if (!origin_argument.empty()) {
            include_origin.clear();
            if (!append_name(origin_argument, origin, include_origin)) {
                error(source, line, "bad $INCLUDE origin '" + origin_argument + "'");
                return;
            }
        }
        std::error_code ec;
        if (std::filesystem::is_directory(included, ec)) {
            error(source, line, included.string() + " is a folder, not a file");
            return;
        }
        const auto canonical = std::filesystem::weakly_canonical(included, ec);
        if (std::find(reading_.begin(), reading_.end(), canonical) != reading_.end()) {
            std::string cycle;
            for (auto it = std::find(reading_.begin(), reading_.end(), canonical);
                 it != reading_.end(); ++it)
                cycle += it->string() + " -> ";
            error(source, line, "$INCLUDE cycle: " + cycle + canonical.string());
            return;
        }
        if (++included_files_ > kMaxIncludedFiles) {
            if (included_files_ == kMaxIncludedFiles + 1)
                error(source, line,
                      "$INCLUDE of more than " + std::to_string(kMaxIncludedFiles) + " files");
            return;
        }
        // RFC 1035 §5.1: the included file's $ORIGIN does not leak back.
        read(included, std::move(include_origin), depth + 1);
    } else {
        error(source, line, "unsupported directive " + directive);
    }
}

void MasterFileReader::read_record_with_ldns(uint16_t source, int line, const std::string& origin) {
    // A line starting with blank space continues the previous owner (RFC 1035 §5.1).
    std::string text = text_;
    if (text[0] == ' ' || text[0] == '\t') {
        if (previous_owner_.empty()) {
            error(source, line, "record without an owner name");
            return;
        }
        text = wire::to_text({reinterpret_cast<const uint8_t*>(previous_owner_.data()),
                              previous_owner_.size()}) +
               text;
    }
    RdfPtr origin_rdf;
    if (!origin.empty())
        origin_rdf.reset(
            ldns_dname_new_frm_data(static_cast<uint16_t>(origin.size()), origin.data()));
    ldns_rr* rr = nullptr;
    ldns_rdf* previous = nullptr;
    const ldns_status status =
        ldns_rr_new_frm_str(&rr, text.c_str(), default_ttl_, origin_rdf.get(), &previous);
    const RdfPtr previous_owner(previous);
    const ldns::Record record(rr);
    if (status != LDNS_STATUS_OK) {
        error(source, line, ldns_get_errorstr_by_id(status));
        return;
    }
    const ldns_rdf* owner = ldns_rr_owner(rr);
    if (!ldns_dname_absolute(owner)) {
        error(source, line, "relative owner name with no $ORIGIN or zone origin");
        return;
    }
    previous_owner_.assign(reinterpret_cast<const char*>(ldns_rdf_data(owner)),
                           ldns_rdf_size(owner));
    if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
        error(source, line, "only class IN is served");
        return;
    }
    if (ldns_rr_ttl(rr) > kMaxTtl) {
        error(source, line, "TTL out of range (RFC 2181 §8: at most 2147483647)");
        return;
    }
    const uint16_t type = static_cast<uint16_t>(ldns_rr_get_type(rr));
    if (is_forbidden_in_zone(type)) {
        error(source, line, "type " + std::to_string(type) + " cannot appear in a zone");
        return;
    }
    ldns_buffer_clear(buffer_.get());
    if (ldns_rr_rdata2buffer_wire(buffer_.get(), rr) != LDNS_STATUS_OK) {
        error(source, line, "cannot encode the record's data");
        return;
    }
    if (ldns_buffer_position(buffer_.get()) > 65535) {
        error(source, line, "record data longer than 65535 octets");
        return;
    }
    add(source, line, type, ldns_rr_ttl(rr),
        {reinterpret_cast<const char*>(ldns_buffer_begin(buffer_.get())),
         ldns_buffer_position(buffer_.get())});
}

void MasterFileReader::add(uint16_t source, int line, uint16_t type, uint32_t ttl,
                           std::string_view rdata) {
    if (type == wire::type::kSOA && first_soa_owner.empty())
        first_soa_owner = lowercase(previous_owner_);
    builder_.add_record(previous_owner_, type, ttl, rdata, line, source);
}

bool MasterFileReader::read_record_directly(uint16_t source, int line, const std::string& origin) {
    bool overflow = false;
    const size_t count = tokenize(text_, tokens_, overflow);
    if (overflow || count < 2) return false;
    size_t k = 0;
    owner_.clear();
    if (text_[0] == ' ' || text_[0] == '\t') {
        if (previous_owner_.empty()) return false;
        owner_ = previous_owner_;
    } else {
        if (tokens_[0].is_quoted || !append_name(tokens_[0].text, origin, owner_)) return false;
        k = 1;
    }
    uint32_t ttl = default_ttl_;
    bool has_ttl = false, has_class = false;
    while (k < count && !tokens_[k].is_quoted) {
        const std::string_view word = tokens_[k].text;
        if (!has_ttl && word[0] >= '0' && word[0] <= '9') {
            uint64_t value = 0;
            for (char c : word) {
                if (c < '0' || c > '9' || value > kMaxTtl) return false;  // units: ldns
                value = value * 10 + uint64_t(c - '0');
            }
            if (value > kMaxTtl) {
                previous_owner_ = owner_;
                error(source, line, "TTL out of range (RFC 2181 §8: at most 2147483647)");
                return true;
            }
            ttl = static_cast<uint32_t>(value);
            has_ttl = true;
        } else if (!has_class && equals_ignoring_case(word, "IN")) {
            has_class = true;
        } else {
            break;
        }
        ++k;
    }
    if (k >= count || tokens_[k].is_quoted) return false;
    const uint16_t type = direct_type(tokens_[k].text);
    if (type == 0) return false;
    rdata_.clear();
    rdata_error_.clear();
    const std::span<const Token> fields(tokens_ + k + 1, count - k - 1);
    switch (parse_rdata(type, fields, origin, rdata_, rdata_error_)) {
        case RdataOutcome::not_handled:
            return false;
        case RdataOutcome::failed:
            error(source, line, rdata_error_);
            return true;
        case RdataOutcome::parsed:
            break;
    }
    previous_owner_ = owner_;
    add(source, line, type, ttl, rdata_);
    return true;
}

}  // namespace

ZoneLoadResult load_zone_file(const std::filesystem::path& file, std::string_view origin,
                              RecordParsing parsing, std::optional<uint32_t> verify_signatures_at) {
    ZoneLoadResult result;
    std::string origin_as_given;  // wire form, case as written
    if (!origin.empty()) {
        const std::string text(origin);
        RdfPtr origin_rdf(ldns_dname_new_frm_str(text.c_str()));
        if (!origin_rdf || !ldns_dname_str_absolute(text.c_str())) {
            result.diagnostics.push_back(
                {file.string(), 0, "origin '" + text + "' is not an absolute name", true});
            return result;
        }
        origin_as_given.assign(reinterpret_cast<const char*>(ldns_rdf_data(origin_rdf.get())),
                               ldns_rdf_size(origin_rdf.get()));
    }

    ZoneBuilder builder(lowercase(origin_as_given), file.string());
    MasterFileReader reader(result.diagnostics, builder, parsing);
    reader.read(file, origin_as_given, 0);
    result.files = reader.sources;
    if (has_errors(result.diagnostics)) return result;

    std::string origin_wire = lowercase(origin_as_given);
    if (origin_wire.empty()) origin_wire = reader.first_origin;
    if (origin_wire.empty()) origin_wire = reader.first_soa_owner;
    if (origin_wire.empty()) {
        result.diagnostics.push_back(
            {file.string(), 0, "no origin: set one in the config, by $ORIGIN, or by an SOA", true});
        return result;
    }
    builder.set_origin(origin_wire);
    if (verify_signatures_at) builder.verify_signatures_at(*verify_signatures_at);
    result.zone = builder.finish(result.diagnostics);
    return result;
}

}  // namespace meridian::zones

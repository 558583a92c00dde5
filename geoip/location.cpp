// The country-to-continent table and the small helpers that complete a Location.
#include "geoip/location.hpp"

#include <algorithm>
#include <array>
#include <cmath>

namespace meridian::geoip {

namespace {

// Every ISO 3166-1 alpha-2 code (249) plus XK (Kosovo, user-assigned but used by GeoNames and
// MaxMind), each followed by its continent, sorted by country. The continents are those of
// the GeoNames countryInfo.txt "Continent" column, which MaxMind's GeoIP2 data also uses;
// so transcontinental countries follow GeoNames: RU, CY -> EU; TR, GE, AM, AZ, KZ -> AS;
// EG -> AF; TL -> OC; Central America and the Caribbean -> NA.
constexpr std::string_view kCountryContinents =
    "ADEUAEASAFASAGNAAINAALEUAMASAOAFAQANARSAASOCATEUAUOCAWNAAXEUAZAS"
    "BAEUBBNABDASBEEUBFAFBGEUBHASBIAFBJAFBLNABMNABNASBOSABQNABRSABSNABTASBVANBWAFBYEUBZNA"
    "CANACCASCDAFCFAFCGAFCHEUCIAFCKOCCLSACMAFCNASCOSACRNACUNACVAFCWNACXASCYEUCZEU"
    "DEEUDJAFDKEUDMNADONADZAF"
    "ECSAEEEUEGAFEHAFERAFESEUETAF"
    "FIEUFJOCFKSAFMOCFOEUFREU"
    "GAAFGBEUGDNAGEASGFSAGGEUGHAFGIEUGLNAGMAFGNAFGPNAGQAFGREUGSANGTNAGUOCGWAFGYSA"
    "HKASHMANHNNAHREUHTNAHUEU"
    "IDASIEEUILASIMEUINASIOASIQASIRASISEUITEU"
    "JEEUJMNAJOASJPAS"
    "KEAFKGASKHASKIOCKMAFKNNAKPASKRASKWASKYNAKZAS"
    "LAASLBASLCNALIEULKASLRAFLSAFLTEULUEULVEULYAF"
    "MAAFMCEUMDEUMEEUMFNAMGAFMHOCMKEUMLAFMMASMNASMOASMPOCMQNAMRAFMSNAMTEUMUAFMVASMWAFMXNA"
    "MYASMZAF"
    "NAAFNCOCNEAFNFOCNGAFNINANLEUNOEUNPASNROCNUOCNZOC"
    "OMAS"
    "PANAPESAPFOCPGOCPHASPKASPLEUPMNAPNOCPRNAPSASPTEUPWOCPYSA"
    "QAAS"
    "REAFROEURSEURUEURWAF"
    "SAASSBOCSCAFSDAFSEEUSGASSHAFSIEUSJEUSKEUSLAFSMEUSNAFSOAFSRSASSAFSTAFSVNASXNASYASSZAF"
    "TCNATDAFTFANTGAFTHASTJASTKOCTLOCTMASTNAFTOOCTRASTTNATVOCTWASTZAF"
    "UAEUUGAFUMOCUSNAUYSAUZAS"
    "VAEUVCNAVESAVGNAVINAVNASVUOC"
    "WFOCWSOC"
    "XKEU"
    "YEASYTAF"
    "ZAAFZMAFZWAF";

constexpr size_t kEntrySize = 4;

constexpr bool is_sorted_table() {
    for (size_t i = kEntrySize; i < kCountryContinents.size(); i += kEntrySize) {
        if (kCountryContinents.substr(i - kEntrySize, 2) >= kCountryContinents.substr(i, 2)) {
            return false;
        }
    }
    return kCountryContinents.size() % kEntrySize == 0;
}
static_assert(is_sorted_table(), "country table must be sorted for binary search");

char upper(char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

std::string upper(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(), [](char c) { return upper(c); });
    return out;
}

}  // namespace

size_t known_country_count() {
    return kCountryContinents.size() / kEntrySize;
}

std::string_view continent_of_country(std::string_view country) {
    if (country.size() != 2) return {};
    const char key[2] = {upper(country[0]), upper(country[1])};
    const std::string_view wanted(key, 2);
    size_t low = 0, high = known_country_count();
    while (low < high) {
        const size_t mid = (low + high) / 2;
        const std::string_view entry = kCountryContinents.substr(mid * kEntrySize, kEntrySize);
        const std::string_view code = entry.substr(0, 2);
        if (code == wanted) return entry.substr(2, 2);
        if (code < wanted) {
            low = mid + 1;
        } else {
            high = mid;
        }
    }
    return {};
}

void complete_location(Location& location) {
    location.country = upper(location.country);
    location.subdivision = upper(location.subdivision);
    location.continent = upper(location.continent);
    if (!location.subdivision.empty() && !location.country.empty() &&
        location.subdivision.find('-') == std::string::npos) {
        location.subdivision = location.country + "-" + location.subdivision;
    }
    if (location.continent.empty()) location.continent = continent_of_country(location.country);
}

double distance_km(const Coordinates& from, const Coordinates& to) {
    constexpr double kEarthRadiusKm = 6371.0088;  // IUGG mean radius
    constexpr double kRadians = M_PI / 180.0;
    const double phi1 = from.latitude * kRadians, phi2 = to.latitude * kRadians;
    const double dphi = phi2 - phi1;
    const double dlambda = (to.longitude - from.longitude) * kRadians;
    const double h = std::sin(dphi / 2) * std::sin(dphi / 2) + std::cos(phi1) * std::cos(phi2) *
                                                                   std::sin(dlambda / 2) *
                                                                   std::sin(dlambda / 2);
    return 2 * kEarthRadiusKm * std::asin(std::sqrt(std::min(1.0, h)));
}

}  // namespace meridian::geoip
